/**
 * The vocabulary between the Envoy adapter and the pipeline. The adapter turns Envoy messages into
 * these plain values and `Outcome`s back into Envoy replies; the pipeline never sees a protobuf.
 */

/** Request or response headers: lower-case names, first value wins. */
export type Headers = Readonly<Record<string, string>>;

export type HeaderPair = readonly [name: string, value: string];

/**
 * What the router tells Envoy about a request, for its access log and later filters (Envoy's dynamic
 * metadata, namespace `llm_router`): the routing decision with the request body's reply, the usage
 * and cost with the reply to the response's last message. Flat: names to strings and numbers.
 */
export type RequestMetadata = Readonly<Record<string, string | number>>;

export type Outcome =
  /** Let the message through, applying these changes. */
  | {
      readonly kind: 'continue';
      readonly metadata?: RequestMetadata;
      readonly setHeaders: readonly HeaderPair[];
      readonly removeHeaders: readonly string[];
      /** Replacement body bytes; absent when the body passes unchanged. */
      readonly body?: Buffer;
      /** Re-run route matching: set with the routing header. */
      readonly clearRouteCache?: boolean;
      /** Response headers only: read the response body, chunk by chunk or whole. */
      readonly readBody?: 'streamed' | 'buffered';
      /** Request headers only: send this request's response headers to the router too. */
      readonly sendResponseHeaders?: boolean;
      /** Request headers only: send the request body, whole (an attempt whose model id must change). */
      readonly readRequestBody?: boolean;
    }
  /** Answer the client now; nothing reaches a provider. */
  | { readonly kind: 'reply'; readonly status: number; readonly body: Buffer; readonly headers: readonly HeaderPair[]; readonly metadata?: RequestMetadata };

export type Continue = Extract<Outcome, { kind: 'continue' }>;

/** No header changes: one frozen list for every outcome without any. */
const UNCHANGED: readonly never[] = Object.freeze([]);

export const PASS: Outcome = Object.freeze({ kind: 'continue', setHeaders: UNCHANGED, removeHeaders: UNCHANGED });

/** A body message let through with its bytes replaced by `body` (unchanged when undefined), headers untouched: a stream's every chunk. */
export const bodyReplaced = (body: Buffer | undefined, metadata?: RequestMetadata): Outcome => ({ kind: 'continue', setHeaders: UNCHANGED, removeHeaders: UNCHANGED, body, metadata });

/** Envoy attributes the filters ask for (envoy.yaml `request_attributes` / `response_attributes`). */
export interface Attributes {
  /** `response.code`, with the first response message. */
  readonly status: number | null;
  /** `xds.cluster_name`: the cluster of the deployment this attempt went to (upstream filter), or of the last one (response). */
  readonly cluster: string | null;
  /** `upstream.request_attempt_count`: 1 for the first attempt. */
  readonly attempt: number | null;
  /**
   * Request headers the response-side attempt filter asks for as attributes (it sees no request
   * message): the request id, the fallback plan and the cluster named for the next attempt.
   */
  readonly requestId: string | null;
  readonly plan: string | null;
  readonly nextCluster: string | null;
}

export const NO_ATTRIBUTES: Attributes = Object.freeze({ status: null, cluster: null, attempt: null, requestId: null, plan: null, nextCluster: null });

/** What drives one ext_proc stream: a request (Exchange) or one attempt of it (Attempt). */
export interface StreamHandler {
  onRequestHeaders(headers: Headers, endOfStream: boolean, attributes: Attributes): Outcome | Promise<Outcome>;
  onRequestBody(body: Buffer): Outcome | Promise<Outcome>;
  onResponseHeaders(headers: Headers, endOfStream: boolean, attributes: Attributes): Outcome;
  onResponseBody(chunk: Buffer, endOfStream: boolean, attributes: Attributes): Outcome;
  /** The stream closed, however it ended. */
  onEnd(): void;
  /** Nothing more of the stream needs the router: the adapter closes it. */
  readonly done: boolean;
}

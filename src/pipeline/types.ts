/**
 * The vocabulary between the Envoy adapter and the pipeline. The adapter turns Envoy messages into
 * these plain values and `Outcome`s back into Envoy replies; the pipeline never sees a protobuf.
 */

/** Request or response headers: lower-case names, first value wins. */
export type Headers = Readonly<Record<string, string>>;

export type HeaderPair = readonly [name: string, value: string];

export type Outcome =
  /** Let the message through, applying these changes. */
  | {
      readonly kind: 'continue';
      readonly setHeaders: readonly HeaderPair[];
      readonly removeHeaders: readonly string[];
      /** Replacement body bytes; absent when the body passes unchanged. */
      readonly body?: Buffer;
      /** Re-run route matching: set with the routing header. */
      readonly clearRouteCache?: boolean;
      /** Response headers only: whether the router needs to read the response body. */
      readonly readBody?: boolean;
      /** Request headers only: send this request's response headers to the router too. */
      readonly sendResponseHeaders?: boolean;
    }
  /** Answer the client now; nothing reaches a provider. */
  | { readonly kind: 'reply'; readonly status: number; readonly body: Buffer; readonly headers: readonly HeaderPair[] };

export const PASS: Outcome = Object.freeze({ kind: 'continue', setHeaders: [], removeHeaders: [] });

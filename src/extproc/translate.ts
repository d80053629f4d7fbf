/**
 * Envoy ext_proc messages ⇄ the pipeline's plain values. Everything protobuf lives here and in
 * server.ts; the pipeline never sees an Envoy type.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { HeaderMap, HeaderValueOptionSchema } from '../gen/envoy/config/core/v3/base_pb.js';
import { ProcessingMode_BodySendMode, ProcessingMode_HeaderSendMode, ProcessingModeSchema } from '../gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.js';
import {
  CommonResponse_ResponseStatus,
  type CommonResponseSchema,
  type ProcessingRequest,
  type ProcessingResponse,
  ProcessingResponseSchema,
} from '../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import type { StatusCode } from '../gen/envoy/type/v3/http_status_pb.js';
import { NO_ATTRIBUTES, PASS, type Attributes, type HeaderPair, type Headers, type Outcome } from '../pipeline/types.js';

/** The phases Envoy can send; the names are the `ProcessingResponse.response` oneof cases. */
export type Phase = 'requestHeaders' | 'requestBody' | 'requestTrailers' | 'responseHeaders' | 'responseBody' | 'responseTrailers';

const PHASES: readonly Phase[] = ['requestHeaders', 'requestBody', 'requestTrailers', 'responseHeaders', 'responseBody', 'responseTrailers'];

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Envoy sends header values in `raw_value` (runtime guard send_header_raw_value); `value` is the fallback. */
export function readHeaders(map: HeaderMap | undefined): Headers {
  // No prototype: a header named `constructor` or `__proto__` is a header like any other.
  const out = Object.create(null) as Record<string, string>;
  if (map === undefined) return out;
  for (const h of map.headers) {
    if (out[h.key] !== undefined) continue;
    out[h.key] = h.rawValue.length > 0 ? asBuffer(h.rawValue).toString('utf8') : h.value;
  }
  return out;
}

/**
 * The filter's `request_attributes` / `response_attributes`, which Envoy sends with the first
 * message of each direction; a field is null when not configured or not on this message.
 */
export function readAttributes(req: ProcessingRequest): Attributes {
  const a = req.attributes['envoy.filters.http.ext_proc'];
  if (a === undefined) return NO_ATTRIBUTES;
  const status = a['response.code'];
  const attempt = a['upstream.request_attempt_count'];
  return {
    status: typeof status === 'number' ? status : null,
    cluster: text(a['xds.cluster_name']),
    attempt: typeof attempt === 'number' ? attempt : null,
    requestId: text(a["request.headers['x-request-id']"]),
    plan: text(a["request.headers['x-llm-plan']"]),
    nextCluster: text(a["request.headers['x-llm-cluster']"]),
  };
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Only `raw_value` is set: Envoy reads nothing else, and setting both fails the request. */
function headerOptions(pairs: readonly HeaderPair[]): MessageInitShape<typeof HeaderValueOptionSchema>[] {
  return pairs.map(([key, value]) => ({ header: { key, rawValue: Buffer.from(value) } }));
}

function common(outcome: Extract<Outcome, { kind: 'continue' }>): MessageInitShape<typeof CommonResponseSchema> {
  return {
    status: CommonResponse_ResponseStatus.CONTINUE,
    headerMutation:
      outcome.setHeaders.length > 0 || outcome.removeHeaders.length > 0
        ? { setHeaders: headerOptions(outcome.setHeaders), removeHeaders: [...outcome.removeHeaders] }
        : undefined,
    bodyMutation: outcome.body === undefined ? undefined : { mutation: { case: 'body', value: outcome.body } },
    clearRouteCache: outcome.clearRouteCache === true,
  };
}

/** Replies that pass a message unchanged are encoded once: the common case costs no allocation. */
const PASS_BYTES = new Map<Phase, Buffer>(
  PHASES.map((phase) => [
    phase,
    Buffer.from(toBinary(ProcessingResponseSchema, create(ProcessingResponseSchema, { response: { case: phase, value: {} } }))),
  ]),
);

const STREAMED_RESPONSE_BODY = create(ProcessingModeSchema, { responseBodyMode: ProcessingMode_BodySendMode.STREAMED });
const BUFFERED_RESPONSE_BODY = create(ProcessingModeSchema, { responseBodyMode: ProcessingMode_BodySendMode.BUFFERED });

/** The fallback-hop filter's mode with the request body on, whole, for a rewrite. */
const WITH_REQUEST_BODY = create(ProcessingModeSchema, {
  requestHeaderMode: ProcessingMode_HeaderSendMode.SEND,
  requestBodyMode: ProcessingMode_BodySendMode.BUFFERED,
  requestTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
  responseHeaderMode: ProcessingMode_HeaderSendMode.SKIP,
  responseBodyMode: ProcessingMode_BodySendMode.NONE,
  responseTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
});

/** The shipped processing mode with the response-headers phase on (an override replaces every field). */
const WITH_RESPONSE_HEADERS = create(ProcessingModeSchema, {
  requestHeaderMode: ProcessingMode_HeaderSendMode.SEND,
  requestBodyMode: ProcessingMode_BodySendMode.BUFFERED,
  requestTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
  responseHeaderMode: ProcessingMode_HeaderSendMode.SEND,
  responseBodyMode: ProcessingMode_BodySendMode.STREAMED,
  responseTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
});

export function encodeOutcome(phase: Phase, outcome: Outcome): Buffer {
  if (outcome === PASS) return PASS_BYTES.get(phase)!;
  let message: ProcessingResponse;
  if (outcome.kind === 'reply') {
    message = create(ProcessingResponseSchema, {
      response: {
        case: 'immediateResponse',
        value: {
          status: { code: outcome.status as StatusCode },
          headers: { setHeaders: headerOptions(outcome.headers) },
          body: outcome.body,
          details: 'llm_router_reply',
        },
      },
    });
  } else if (phase === 'requestTrailers' || phase === 'responseTrailers') {
    message = create(ProcessingResponseSchema, { response: { case: phase, value: {} } });
  } else {
    message = create(ProcessingResponseSchema, { response: { case: phase, value: { response: common(outcome) } } });
    // Envoy honours a mode override only in a reply to a headers message.
    if (outcome.readBody !== undefined && phase === 'responseHeaders') message.modeOverride = outcome.readBody === 'streamed' ? STREAMED_RESPONSE_BODY : BUFFERED_RESPONSE_BODY;
    if (outcome.sendResponseHeaders === true && phase === 'requestHeaders') message.modeOverride = WITH_RESPONSE_HEADERS;
    if (outcome.readRequestBody === true && phase === 'requestHeaders') message.modeOverride = WITH_REQUEST_BODY;
  }
  return Buffer.from(toBinary(ProcessingResponseSchema, message));
}

/**
 * The pipeline's outcomes → Envoy ext_proc replies (decode.ts reads Envoy's messages). Everything
 * protobuf lives in extproc/; the pipeline never sees an Envoy type.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import type { HeaderValueOptionSchema } from '../gen/envoy/config/core/v3/base_pb.js';
import { ProcessingMode_BodySendMode, ProcessingMode_HeaderSendMode, ProcessingModeSchema } from '../gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.js';
import {
  CommonResponse_ResponseStatus,
  type CommonResponseSchema,
  type ProcessingResponse,
  ProcessingResponseSchema,
} from '../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import type { StatusCode } from '../gen/envoy/type/v3/http_status_pb.js';
import { PASS, type HeaderPair, type Outcome } from '../pipeline/types.js';

/** The phases Envoy can send; the names are the `ProcessingResponse.response` oneof cases. */
export type Phase = 'requestHeaders' | 'requestBody' | 'requestTrailers' | 'responseHeaders' | 'responseBody' | 'responseTrailers';

const PHASES: readonly Phase[] = ['requestHeaders', 'requestBody', 'requestTrailers', 'responseHeaders', 'responseBody', 'responseTrailers'];

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

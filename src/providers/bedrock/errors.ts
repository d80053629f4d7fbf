/**
 * Bedrock's errors in OpenAI's format, and what each means to the router. Bedrock names an error in
 * the `x-amzn-errortype` header (`ValidationException`, or with `:http://internal…` after it) and
 * puts `{"message": …}` in the body; a ConverseStream exception event names it in `:exception-type`
 * (camelCase: `throttlingException`).
 *
 *   error type                        status  kind             OpenAI type / code
 *   ValidationException               400     invalid_request  invalid_request_error / null
 *     … "too long", "context", "max tokens" 400 context_window invalid_request_error / context_length_exceeded
 *   AccessDeniedException             403     auth             permission_error / permission_error
 *   UnrecognizedClientException,
 *   InvalidSignatureException, …      403     auth             authentication_error / invalid_api_key
 *   ResourceNotFoundException         404     invalid_request  not_found_error / not_found_error
 *   ModelTimeoutException             408     server_error     server_error / timeout_error
 *   ModelErrorException, ModelStreamErrorException 424 server_error server_error / model_error
 *   ThrottlingException               429     rate_limited     rate_limit_error / rate_limit_exceeded
 *   ModelNotReadyException            429     overloaded       service_unavailable_error / overloaded
 *   InternalServerException           500     server_error     server_error / api_error
 *   ServiceUnavailableException       503     overloaded       service_unavailable_error / overloaded
 *
 * The client gets Bedrock's status, except ModelNotReadyException's 429, which is not a rate limit
 * of the client's: 503, as the router answers when it is overloaded, retried by SDKs and Envoy.
 */
import type { FallbackReason } from '../../routing/plan.js';
import { fallbackReasonFrom } from '../fallback-reason.js';
import { CONTEXT_WINDOW, specOfStatus, translatedError, type ErrorSpec, type StatusSpecs, type TranslatedError } from '../translated-error.js';

const AUTH: ErrorSpec = { status: 403, kind: 'auth', type: 'authentication_error', code: 'invalid_api_key' };
const INVALID: ErrorSpec = { status: 400, kind: 'invalid_request', type: 'invalid_request_error', code: null };
const SERVER: ErrorSpec = { status: 500, kind: 'server_error', type: 'server_error', code: 'api_error' };
const OVERLOADED: ErrorSpec = { status: 503, kind: 'overloaded', type: 'service_unavailable_error', code: 'overloaded' };
const RATE_LIMITED: ErrorSpec = { status: 429, kind: 'rate_limited', type: 'rate_limit_error', code: 'rate_limit_exceeded' };

const BY_TYPE: Readonly<Record<string, ErrorSpec>> = {
  ValidationException: INVALID,
  AccessDeniedException: { status: 403, kind: 'auth', type: 'permission_error', code: 'permission_error' },
  UnrecognizedClientException: AUTH,
  InvalidSignatureException: AUTH,
  IncompleteSignatureException: AUTH,
  MissingAuthenticationTokenException: AUTH,
  ExpiredTokenException: AUTH,
  ResourceNotFoundException: { status: 404, kind: 'invalid_request', type: 'not_found_error', code: 'not_found_error' },
  ModelTimeoutException: { status: 408, kind: 'server_error', type: 'server_error', code: 'timeout_error' },
  ModelErrorException: { status: 424, kind: 'server_error', type: 'server_error', code: 'model_error' },
  ModelStreamErrorException: { status: 424, kind: 'server_error', type: 'server_error', code: 'model_error' },
  ThrottlingException: RATE_LIMITED,
  ModelNotReadyException: OVERLOADED,
  InternalServerException: SERVER,
  ServiceUnavailableException: OVERLOADED,
};

/** Bedrock's wording: "Input is too long for requested model.", "prompt is too long: …", "…exceeds the context window…". */
const CONTEXT_MESSAGE = /too long|context (window|length|limit)|exceeds? the maximum (input|context)/i;

/** The type name in `x-amzn-errortype` or `:exception-type`, as BY_TYPE spells it. */
function typeName(errorType: string | null): string | null {
  if (errorType === null || errorType === '') return null;
  const name = errorType.split(':', 1)[0]!;
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** For a type Bedrock adds later, or a body that is not Bedrock's (a proxy's page). */
const BY_STATUS: StatusSpecs = { invalid: INVALID, auth: AUTH, rateLimited: RATE_LIMITED, overloaded: OVERLOADED, server: SERVER };

/**
 * The OpenAI error for a Bedrock error: `status` the response's (null for a stream's exception
 * event: the type's own), `errorType` its `x-amzn-errortype` or `:exception-type`, `body` parsed.
 */
export function toOpenAiError(status: number | null, errorType: string | null, body: unknown): TranslatedError {
  const raw = (body as { message?: unknown; Message?: unknown } | null) ?? {};
  const message = typeof raw.message === 'string' ? raw.message : typeof raw.Message === 'string' ? raw.Message : null;
  const name = typeName(errorType);
  let spec = (name === null ? undefined : BY_TYPE[name]) ?? specOfStatus(status ?? 500, BY_STATUS);
  if (spec.kind === 'invalid_request' && spec.status === 400 && message !== null && CONTEXT_MESSAGE.test(message)) spec = CONTEXT_WINDOW;
  const sent = status ?? spec.status;
  return translatedError(spec.kind === 'overloaded' ? 503 : sent, spec, message, sent);
}

/** A refusal another deployment may serve: a prompt over the model's context window (Bedrock's guardrails answer 200). */
export const fallbackReasonOf = (errorBody: Buffer): FallbackReason | null => fallbackReasonFrom(errorBody, (body) => toOpenAiError(400, 'ValidationException', body).kind);

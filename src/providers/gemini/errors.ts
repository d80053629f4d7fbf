/**
 * Google's errors (`{"error":{"code","message","status","details"}}`, google.rpc.Status in JSON;
 * also the data of a stream event that fails mid-answer) in OpenAI's format, and what each means to
 * the router. The client gets Google's HTTP status; the kind decides retry, cooldown and fallback.
 *
 *   status               code  kind             OpenAI type / code
 *   INVALID_ARGUMENT     400   invalid_request  invalid_request_error / null
 *     … token count wording    context_window   invalid_request_error / context_length_exceeded
 *     … API_KEY_INVALID        auth             authentication_error / invalid_api_key   (Google's answer to a wrong key)
 *   FAILED_PRECONDITION  400   auth             permission_error / failed_precondition  (billing, region: the deployment's, not the request's)
 *   OUT_OF_RANGE         400   invalid_request  invalid_request_error / null
 *   UNAUTHENTICATED      401   auth             authentication_error / invalid_api_key
 *   PERMISSION_DENIED    403   auth             permission_error / permission_error
 *   NOT_FOUND            404   invalid_request  not_found_error / not_found
 *   RESOURCE_EXHAUSTED   429   rate_limited     rate_limit_error / rate_limit_exceeded
 *   INTERNAL             500   server_error     server_error / internal_error
 *   UNAVAILABLE          503   overloaded       service_unavailable_error / overloaded
 *   DEADLINE_EXCEEDED    504   server_error     server_error / timeout
 *   a blocked prompt     200   content_policy   invalid_request_error / content_filter  (no candidates, `promptFeedback.blockReason`)
 */
import type { FallbackReason } from '../../routing/plan.js';
import { isObject } from '../chat-request.js';
import { fallbackReasonFrom } from '../fallback-reason.js';
import { CONTENT_FILTER, CONTEXT_WINDOW, specOfStatus, translatedError, type ErrorSpec, type StatusSpecs, type TranslatedError } from '../translated-error.js';

const BY_RPC_STATUS: Readonly<Record<string, ErrorSpec>> = {
  INVALID_ARGUMENT: { status: 400, kind: 'invalid_request', type: 'invalid_request_error', code: null },
  FAILED_PRECONDITION: { status: 400, kind: 'auth', type: 'permission_error', code: 'failed_precondition' },
  OUT_OF_RANGE: { status: 400, kind: 'invalid_request', type: 'invalid_request_error', code: null },
  UNAUTHENTICATED: { status: 401, kind: 'auth', type: 'authentication_error', code: 'invalid_api_key' },
  PERMISSION_DENIED: { status: 403, kind: 'auth', type: 'permission_error', code: 'permission_error' },
  NOT_FOUND: { status: 404, kind: 'invalid_request', type: 'not_found_error', code: 'not_found' },
  RESOURCE_EXHAUSTED: { status: 429, kind: 'rate_limited', type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  INTERNAL: { status: 500, kind: 'server_error', type: 'server_error', code: 'internal_error' },
  UNAVAILABLE: { status: 503, kind: 'overloaded', type: 'service_unavailable_error', code: 'overloaded' },
  DEADLINE_EXCEEDED: { status: 504, kind: 'server_error', type: 'server_error', code: 'timeout' },
};

/** "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)." */
const CONTEXT_MESSAGE = /token count .*exceeds|exceeds the maximum number of tokens|context window/i;
const KEY_INVALID: ErrorSpec = { status: 400, kind: 'auth', type: 'authentication_error', code: 'invalid_api_key' };

/** For a status Google adds later, or a body that is not Google's (a proxy's page). */
const BY_CODE: StatusSpecs = {
  invalid: BY_RPC_STATUS.INVALID_ARGUMENT!,
  auth: BY_RPC_STATUS.PERMISSION_DENIED!,
  rateLimited: BY_RPC_STATUS.RESOURCE_EXHAUSTED!,
  overloaded: BY_RPC_STATUS.UNAVAILABLE!,
  server: BY_RPC_STATUS.INTERNAL!,
};

/** Whether `details` holds an ErrorInfo with reason API_KEY_INVALID, Google's mark of a wrong key. */
const keyInvalid = (details: unknown): boolean => Array.isArray(details) && details.some((d) => isObject(d) && d.reason === 'API_KEY_INVALID');

/**
 * The OpenAI error for a Google error `body` (parsed; anything else is read by its status), or for
 * a response whose prompt Gemini blocked. `status`: the response's, or null for a stream's event.
 */
export function toOpenAiError(status: number | null, body: unknown): TranslatedError {
  const error = isObject(body) && isObject(body.error) ? body.error : null;
  const feedback = isObject(body) && error === null ? body.promptFeedback : undefined;
  if (isObject(feedback) && typeof feedback.blockReason === 'string') {
    const message = `The prompt was blocked by Gemini's safety filters (blockReason ${feedback.blockReason}).`;
    return translatedError(CONTENT_FILTER.status, CONTENT_FILTER, message, CONTENT_FILTER.status);
  }
  const code = typeof error?.code === 'number' ? error.code : (status ?? 500);
  const message = typeof error?.message === 'string' ? error.message : null;
  let spec = (typeof error?.status === 'string' ? BY_RPC_STATUS[error.status] : undefined) ?? specOfStatus(code, BY_CODE);
  if (spec.kind === 'invalid_request' && (keyInvalid(error?.details) || (message !== null && /API key not valid/i.test(message)))) spec = KEY_INVALID;
  else if (spec.kind === 'invalid_request' && message !== null && CONTEXT_MESSAGE.test(message)) spec = CONTEXT_WINDOW;
  return translatedError(status ?? spec.status, spec, message, status ?? code);
}

/** A refusal another deployment may serve: a prompt over the model's context window, or a blocked prompt. */
export const fallbackReasonOf = (errorBody: Buffer): FallbackReason | null => fallbackReasonFrom(errorBody, (body) => toOpenAiError(400, body).kind);

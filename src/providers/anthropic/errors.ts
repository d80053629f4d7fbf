/**
 * Anthropic's errors (`ErrorResponse` in `@anthropic-ai/sdk`: `{"type":"error","error":{"type",
 * "message"},"request_id"}`, also the data of a stream's `error` event) in OpenAI's format, and
 * what each means to the router:
 *
 *   error.type               status  kind             OpenAI type / code
 *   invalid_request_error    400     invalid_request  invalid_request_error / null
 *     … "prompt is too long" 400     context_window   invalid_request_error / context_length_exceeded
 *     … content filtering    400     content_policy   invalid_request_error / content_filter
 *   authentication_error     401     auth             authentication_error / invalid_api_key
 *   billing_error            402     auth             insufficient_quota / insufficient_quota
 *   permission_error         403     auth             permission_error / permission_error
 *   not_found_error          404     invalid_request  not_found_error / not_found_error
 *   request_too_large        413     invalid_request  invalid_request_error / request_too_large
 *   rate_limit_error         429     rate_limited     rate_limit_error / rate_limit_exceeded
 *   api_error                500     server_error     server_error / api_error
 *   timeout_error            504     server_error     server_error / timeout_error
 *   overloaded_error         529     overloaded       service_unavailable_error / overloaded_error
 *
 * The client gets the provider's status, except 529, which OpenAI's API never sends: 503, what the
 * router itself answers when it is overloaded, retried by SDKs and by Envoy alike.
 */
import type { FallbackReason } from '../../routing/plan.js';
import { fallbackReasonFrom } from '../fallback-reason.js';
import { CONTENT_FILTER, CONTEXT_WINDOW, specOfStatus, translatedError, type ErrorSpec, type StatusSpecs, type TranslatedError } from '../translated-error.js';

const BY_TYPE: Readonly<Record<string, ErrorSpec>> = {
  invalid_request_error: { status: 400, kind: 'invalid_request', type: 'invalid_request_error', code: null },
  authentication_error: { status: 401, kind: 'auth', type: 'authentication_error', code: 'invalid_api_key' },
  billing_error: { status: 402, kind: 'auth', type: 'insufficient_quota', code: 'insufficient_quota' },
  permission_error: { status: 403, kind: 'auth', type: 'permission_error', code: 'permission_error' },
  not_found_error: { status: 404, kind: 'invalid_request', type: 'not_found_error', code: 'not_found_error' },
  request_too_large: { status: 413, kind: 'invalid_request', type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { status: 429, kind: 'rate_limited', type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { status: 500, kind: 'server_error', type: 'server_error', code: 'api_error' },
  timeout_error: { status: 504, kind: 'server_error', type: 'server_error', code: 'timeout_error' },
  overloaded_error: { status: 529, kind: 'overloaded', type: 'service_unavailable_error', code: 'overloaded_error' },
};

/** Anthropic's wording: "prompt is too long: 208656 tokens > 200000 maximum"; older models: "input length and `max_tokens` exceed context limit". */
const CONTEXT_MESSAGE = /prompt is too long|exceed context limit|context window/i;
const POLICY_MESSAGE = /content filtering|content policy|usage policy/i;

/** The status an OpenAI client gets for the provider's. */
export const openAiStatusOf = (status: number): number => (status === 529 ? 503 : status);

/** For an error of a type Anthropic adds later, or a body that is not Anthropic's (a proxy's page). */
const BY_STATUS: StatusSpecs = {
  invalid: BY_TYPE.invalid_request_error!,
  auth: BY_TYPE.authentication_error!,
  rateLimited: BY_TYPE.rate_limit_error!,
  overloaded: BY_TYPE.overloaded_error!,
  server: BY_TYPE.api_error!,
};

/**
 * The OpenAI error for an Anthropic error `body` (parsed; anything else is read by its status).
 * `status`: the response's, or null for a stream's error event (then the type's own status).
 */
export function toOpenAiError(status: number | null, body: unknown): TranslatedError {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  const type = typeof error?.type === 'string' ? error.type : null;
  const message = typeof error?.message === 'string' ? error.message : null;
  let spec = (type === null ? undefined : BY_TYPE[type]) ?? (status === 529 ? BY_STATUS.overloaded : specOfStatus(status ?? 500, BY_STATUS));
  if (spec.kind === 'invalid_request' && message !== null) {
    if (CONTEXT_MESSAGE.test(message)) spec = CONTEXT_WINDOW;
    else if (POLICY_MESSAGE.test(message)) spec = CONTENT_FILTER;
  }
  return translatedError(openAiStatusOf(status ?? spec.status), spec, message, status ?? spec.status);
}

/** A refusal another deployment may serve: a prompt over the model's context window, or a content filter. */
export const fallbackReasonOf = (errorBody: Buffer): FallbackReason | null => fallbackReasonFrom(errorBody, (body) => toOpenAiError(400, body).kind);

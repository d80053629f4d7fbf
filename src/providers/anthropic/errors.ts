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

/** What a provider error means to the router: rate_limited, overloaded and server_error are retriable. */
export type ErrorKind = 'invalid_request' | 'context_window' | 'content_policy' | 'auth' | 'rate_limited' | 'overloaded' | 'server_error';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: null; code: string | null };
}

export interface TranslatedError {
  /** The status the client gets. */
  readonly status: number;
  readonly kind: ErrorKind;
  readonly body: OpenAiErrorBody;
}

interface Spec {
  /** Anthropic's status for the type, which a stream's error event does not carry. */
  readonly status: number;
  readonly kind: ErrorKind;
  readonly type: string;
  readonly code: string | null;
}

const BY_TYPE: Readonly<Record<string, Spec>> = {
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

const CONTEXT: Spec = { status: 400, kind: 'context_window', type: 'invalid_request_error', code: 'context_length_exceeded' };
const POLICY: Spec = { status: 400, kind: 'content_policy', type: 'invalid_request_error', code: 'content_filter' };

/** The status an OpenAI client gets for the provider's. */
export const openAiStatusOf = (status: number): number => (status === 529 ? 503 : status);

/** For an error of a type Anthropic adds later, or a body that is not Anthropic's (a proxy's page). */
function specOfStatus(status: number): Spec {
  if (status === 429) return BY_TYPE.rate_limit_error!;
  if (status === 529 || status === 503) return { ...BY_TYPE.overloaded_error!, status };
  if (status === 401 || status === 403) return { ...BY_TYPE.authentication_error!, status };
  if (status >= 500) return { ...BY_TYPE.api_error!, status };
  return { ...BY_TYPE.invalid_request_error!, status: status >= 400 ? status : 400 };
}

/**
 * The OpenAI error for an Anthropic error `body` (parsed; anything else is read by its status).
 * `status`: the response's, or null for a stream's error event (then the type's own status).
 */
export function toOpenAiError(status: number | null, body: unknown): TranslatedError {
  const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  const type = typeof error?.type === 'string' ? error.type : null;
  const message = typeof error?.message === 'string' ? error.message : null;
  let spec = (type === null ? undefined : BY_TYPE[type]) ?? specOfStatus(status ?? 500);
  if (spec.kind === 'invalid_request' && message !== null) {
    if (CONTEXT_MESSAGE.test(message)) spec = CONTEXT;
    else if (POLICY_MESSAGE.test(message)) spec = POLICY;
  }
  return {
    status: openAiStatusOf(status ?? spec.status),
    kind: spec.kind,
    body: { error: { message: message ?? `The provider answered with status ${status ?? spec.status}.`, type: spec.type, param: null, code: spec.code } },
  };
}

/** A refusal another deployment may serve: a prompt over the model's context window, or a content filter. */
export const fallbackReasonOf = (errorBody: Buffer): FallbackReason | null => fallbackReasonFrom(errorBody, (body) => toOpenAiError(400, body).kind);

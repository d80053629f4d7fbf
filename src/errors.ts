/**
 * The catalogue of errors a client can receive from the router. Each has a stable `code`, the HTTP
 * status and the OpenAI error `type`, so SDKs map them to the same exception classes they raise for
 * the provider itself (400 → BadRequestError, 404 → NotFoundError, …).
 */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'invalid_api_key'
  | 'model_not_allowed'
  | 'tag_not_allowed'
  | 'auth_unavailable'
  | 'admission_unavailable'
  | 'overloaded'
  | 'missing_body'
  | 'model_not_found'
  | 'not_found'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'request_headers_too_large'
  | 'no_deployment'
  | 'unsupported_request'
  | 'unsupported_parameter'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'internal_error';

interface ErrorSpec {
  readonly status: number;
  readonly type: 'invalid_request_error' | 'not_found_error' | 'server_error' | 'service_unavailable_error' | 'rate_limit_error' | 'insufficient_quota';
}

const SPECS: Record<ErrorCode, ErrorSpec> = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  model_not_allowed: { status: 403, type: 'invalid_request_error' },
  tag_not_allowed: { status: 403, type: 'invalid_request_error' },
  auth_unavailable: { status: 503, type: 'service_unavailable_error' },
  admission_unavailable: { status: 503, type: 'service_unavailable_error' },
  overloaded: { status: 503, type: 'service_unavailable_error' },
  missing_body: { status: 400, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'not_found_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  // Also Envoy's own answer (envoy.yaml local_reply_config) to a request over its header limits.
  request_headers_too_large: { status: 431, type: 'invalid_request_error' },
  no_deployment: { status: 503, type: 'service_unavailable_error' },
  // No deployment of the model can ever take this request (an embeddings request to a chat model, a
  // prompt over every context window): retrying would not help.
  unsupported_request: { status: 400, type: 'invalid_request_error' },
  // The deployment's provider cannot honour a parameter (n > 1 on Anthropic, logprobs, audio): OpenAI's
  // own code for a parameter a model does not support.
  unsupported_parameter: { status: 400, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  budget_exceeded: { status: 429, type: 'insufficient_quota' },
  internal_error: { status: 500, type: 'server_error' },
};

export class RouterError extends Error {
  readonly status: number;
  readonly type: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    /** Sent as `Retry-After` (seconds) with the error. */
    readonly retryAfterSec: number | null = null,
    /** More response headers, e.g. `x-ratelimit-*` with a rate-limit refusal. */
    readonly headers: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(message);
    this.name = 'RouterError';
    const spec = SPECS[code];
    this.status = spec.status;
    this.type = spec.type;
  }

  /** The body OpenAI's API returns for an error, byte-compatible with what SDKs parse. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

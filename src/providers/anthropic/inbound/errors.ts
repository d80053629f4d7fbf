/**
 * Errors as Anthropic SDK clients expect them (`ErrorResponse` in `@anthropic-ai/sdk`):
 * `{"type":"error","error":{"type","message"}}`, with the status of the type. The SDKs pick their
 * exception class by status (429 → RateLimitError, 529 → InternalServerError, retried), so the
 * status matters as much as the body.
 *
 *   OpenAI / router status   Anthropic type           status
 *   400, 405, 415, 431       invalid_request_error    same
 *   401                      authentication_error     401
 *   403                      permission_error         403
 *   404                      not_found_error          404
 *   413                      request_too_large        413
 *   429                      rate_limit_error         429
 *   503                      overloaded_error         529   (what Anthropic answers when overloaded)
 *   504                      timeout_error            504
 *   500 and other 5xx        api_error                same
 *
 * A stream's error event carries no status: there the OpenAI error's `type` decides.
 */

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}

export interface AnthropicErrorReply {
  readonly status: number;
  readonly body: AnthropicErrorBody;
}

/** A request this translation refuses, in Anthropic's terms (thrown by request.ts). */
export class AnthropicRefusal extends Error {
  constructor(
    readonly status: number,
    readonly type: AnthropicErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'AnthropicRefusal';
  }

  toJSON(): AnthropicErrorBody {
    return errorBody(this.type, this.message);
  }
}

export const errorBody = (type: AnthropicErrorType, message: string): AnthropicErrorBody => ({ type: 'error', error: { type, message } });

/** A 400 `invalid_request_error`, worded as Anthropic words its own: `<field path>: <why>`. */
export const invalidRequest = (at: string, why: string): AnthropicRefusal => new AnthropicRefusal(400, 'invalid_request_error', `${at}: ${why}`);

const BY_STATUS: Readonly<Record<number, AnthropicErrorType>> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

const BY_OPENAI_TYPE: Readonly<Record<string, AnthropicErrorType>> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  permission_error: 'permission_error',
  not_found_error: 'not_found_error',
  rate_limit_error: 'rate_limit_error',
  insufficient_quota: 'rate_limit_error',
  service_unavailable_error: 'overloaded_error',
  server_error: 'api_error',
};

/** Anthropic's status for each type (its errors page). */
const STATUS_OF: Readonly<Record<AnthropicErrorType, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

const typeOfStatus = (status: number): AnthropicErrorType => BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');

/** The status an Anthropic client gets for an OpenAI-side error status. */
export const anthropicStatusOf = (status: number): number => (status === 503 ? 529 : status);

/**
 * The Anthropic error for an OpenAI error body (a provider's, or the router's own `RouterError`),
 * `status` being the response's, or null for a stream's error event. A body that is not OpenAI's
 * (a proxy's page) is read by its status alone.
 */
export function anthropicErrorOf(responseStatus: number | null, openAiBody: unknown): AnthropicErrorReply {
  // A body read as an error although its status says otherwise is a failure of the provider's.
  const status = responseStatus !== null && responseStatus < 400 ? 500 : responseStatus;
  const error = (openAiBody as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  const openAiType = typeof error?.type === 'string' ? BY_OPENAI_TYPE[error.type] : undefined;
  const type = status !== null ? typeOfStatus(status) : (openAiType ?? 'api_error');
  const message = typeof error?.message === 'string' ? error.message : `The provider answered with status ${status ?? STATUS_OF[type]}.`;
  return { status: status === null ? STATUS_OF[type] : anthropicStatusOf(status), body: errorBody(type, message) };
}

/**
 * Anthropic's Messages wire format: `POST /v1/messages` (JSON, or SSE events message_start →
 * content_block_start/delta/stop → message_delta → message_stop, with ping) and `POST
 * /v1/messages/count_tokens`, with `x-api-key` and `anthropic-version`. Errors are
 * `{"type":"error","error":{"type","message"},"request_id"}` with the status of their type (529
 * `overloaded_error`, …). Wording from answers quoted in public issue threads: "x-api-key header is
 * required", "invalid x-api-key", "Invalid bearer token", "anthropic-version: header is required",
 * `anthropic-version: "…" is not a valid version`, "<field>: Extra inputs are not permitted"; the
 * missing- and wrong-type messages are the validation library's ("Field required", "Input should be
 * a valid integer"). The wording for a body that is not JSON is the mock's own.
 */
import { randomBytes } from 'node:crypto';
import { retryAfterOf, type LimitCount, type LimitReport } from '../rate-limit.js';
import { auditParams, type JsonType, type Rejection, type WireFormat } from '../wire.js';
import { anthropicAnswer } from './messages.js';
import { COUNT_TOKENS_PARAMS, MESSAGE_PARAMS, VERSIONS } from './params.js';

/** Error types by status, as Anthropic's errors page lists them. */
const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const typeFor = (status: number): string => TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');

/** Anthropic's error body; every answer carries a request id, in the body and in `request-id`. */
export function anthropicError(status: number, message: string, type = typeFor(status)): Rejection {
  const requestId = `req_mock${randomBytes(9).toString('hex')}`;
  return { status, body: { type: 'error', error: { type, message }, request_id: requestId }, headers: { 'request-id': requestId } };
}

const TYPE_NAMES: Readonly<Record<JsonType, string>> = {
  string: 'string',
  integer: 'integer',
  number: 'number',
  boolean: 'boolean',
  array: 'list',
  object: 'dictionary',
  null: 'null',
};

/**
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`, the
 * reset an RFC 3339 time in whole seconds, and `retry-after` on a 429: one family per window the
 * instance limits (`tokens` is input and output together). `date` is the limits clock's, as Anthropic's
 * answers carry their own clock's time: a reader takes the resets relative to it.
 */
export function anthropicLimitHeaders(r: LimitReport): Record<string, string> {
  const headers = retryAfterOf(r);
  const reset = new Date(r.resetAtMs).toISOString().replace(/\.\d+Z$/, 'Z');
  const add = (kind: string, c: LimitCount | null): void => {
    if (c === null) return;
    headers[`anthropic-ratelimit-${kind}-limit`] = String(c.limit);
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(c.remaining);
    headers[`anthropic-ratelimit-${kind}-reset`] = reset;
  };
  add('requests', r.requests);
  add('tokens', r.tokens);
  add('input-tokens', r.inputTokens);
  add('output-tokens', r.outputTokens);
  if (r.requests !== null || r.tokens !== null || r.inputTokens !== null || r.outputTokens !== null) headers.date = new Date(r.resetAtMs - r.resetInMs).toUTCString();
  return headers;
}

const ROUTES: Readonly<Record<string, 'chat' | 'count_tokens'>> = { '/v1/messages': 'chat', '/v1/messages/count_tokens': 'count_tokens' };

export const anthropicFormat: WireFormat = {
  route(req) {
    const endpoint = ROUTES[req.path];
    return endpoint !== undefined && req.method === 'POST' ? endpoint : anthropicError(404, 'Not Found');
  },
  checkRequest(req, expectedKey) {
    const key = req.headers['x-api-key'];
    if (key === undefined || key === '') {
      return anthropicError(401, /^Bearer /.test(req.headers.authorization ?? '') ? 'Invalid bearer token' : 'x-api-key header is required');
    }
    if (expectedKey !== undefined && key !== expectedKey) return anthropicError(401, 'invalid x-api-key');
    const version = req.headers['anthropic-version'];
    if (version === undefined) return anthropicError(400, 'anthropic-version: header is required');
    if (!VERSIONS.has(version)) return anthropicError(400, `anthropic-version: ${JSON.stringify(version)} is not a valid version`);
    return null;
  },
  checkBody(endpoint, body) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return anthropicError(400, 'The request body is not valid JSON.');
    const fields = body as Record<string, unknown>;
    const { unknown, mistyped } = auditParams(fields, endpoint === 'count_tokens' ? COUNT_TOKENS_PARAMS : MESSAGE_PARAMS);
    if (unknown.length > 0) return anthropicError(400, `${unknown[0]}: Extra inputs are not permitted`);
    for (const required of endpoint === 'count_tokens' ? ['messages', 'model'] : ['max_tokens', 'messages', 'model']) {
      if (fields[required] === undefined) return anthropicError(400, `${required}: Field required`);
    }
    if (mistyped !== null) return anthropicError(400, `${mistyped.key}: Input should be a valid ${TYPE_NAMES[mistyped.expected[0]!]}`);
    if ((fields.messages as unknown[]).length === 0) return anthropicError(400, 'messages: at least one message is required');
    return null;
  },
  // "Overloaded" is what the API says with 529; the mock's own message otherwise.
  error: (status, message) => anthropicError(status, status === 529 ? 'Overloaded' : message),
  limitError: (message) => anthropicError(429, message),
  limitHeaders: anthropicLimitHeaders,
  answer: anthropicAnswer,
};

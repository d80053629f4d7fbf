/**
 * Anthropic errors as OpenAI errors, with the status an OpenAI client expects and the kind the
 * router acts on (retry, cool down, fall back for a reason).
 */
import { describe, expect, it } from 'vitest';
import { fallbackReasonOf, toOpenAiError } from '../../../../src/providers/anthropic/errors.js';

/** Anthropic's error body, as the API and its stream's error event carry it. */
const body = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy' });

describe('toOpenAiError', () => {
  it.each([
    [400, 'invalid_request_error', 'max_tokens: Field required', 400, 'invalid_request', 'invalid_request_error', null],
    [400, 'invalid_request_error', 'prompt is too long: 208656 tokens > 200000 maximum', 400, 'context_window', 'invalid_request_error', 'context_length_exceeded'],
    [400, 'invalid_request_error', 'input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000', 400, 'context_window', 'invalid_request_error', 'context_length_exceeded'],
    [400, 'invalid_request_error', 'Output blocked by content filtering policy', 400, 'content_policy', 'invalid_request_error', 'content_filter'],
    [401, 'authentication_error', 'invalid x-api-key', 401, 'auth', 'authentication_error', 'invalid_api_key'],
    [402, 'billing_error', 'Your credit balance is too low', 402, 'auth', 'insufficient_quota', 'insufficient_quota'],
    [403, 'permission_error', 'Your API key does not have permission to use the specified resource.', 403, 'auth', 'permission_error', 'permission_error'],
    [404, 'not_found_error', 'model: claude-9', 404, 'invalid_request', 'not_found_error', 'not_found_error'],
    [413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.', 413, 'invalid_request', 'invalid_request_error', 'request_too_large'],
    [429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', 429, 'rate_limited', 'rate_limit_error', 'rate_limit_exceeded'],
    [500, 'api_error', 'Internal server error', 500, 'server_error', 'server_error', 'api_error'],
    [504, 'timeout_error', 'Request timed out', 504, 'server_error', 'server_error', 'timeout_error'],
    [529, 'overloaded_error', 'Overloaded', 503, 'overloaded', 'service_unavailable_error', 'overloaded_error'],
  ])('%s %s (%s) → %s, %s', (status, type, message, clientStatus, kind, openAiType, code) => {
    expect(toOpenAiError(status, body(type, message))).toEqual({ status: clientStatus, kind, body: { error: { message, type: openAiType, param: null, code } } });
  });

  it("a stream's error event (no status): the type's own status, 529 sent as 503", () => {
    expect(toOpenAiError(null, body('overloaded_error', 'Overloaded'))).toMatchObject({ status: 503, kind: 'overloaded' });
    expect(toOpenAiError(null, body('rate_limit_error', 'slow down'))).toMatchObject({ status: 429, kind: 'rate_limited' });
  });

  it.each([
    [429, 'rate_limited', 429],
    [529, 'overloaded', 503],
    [503, 'overloaded', 503],
    [502, 'server_error', 502],
    [401, 'auth', 401],
    [422, 'invalid_request', 422],
  ])('a body that is not Anthropic’s (or a type added later), status %s: read by its status as %s', (status, kind, clientStatus) => {
    for (const b of ['<html>gateway</html>', null, body('a_future_error', 'new')]) {
      const out = toOpenAiError(status, b);
      expect(out).toMatchObject({ status: clientStatus, kind });
      expect(out.body.error.message).toBe(b === null || typeof b === 'string' ? `The provider answered with status ${status}.` : 'new');
    }
  });
});

it('fallbackReasonOf: a context-window or content-filter refusal another deployment may serve; nothing else', () => {
  const reason = (type: string, message: string) => fallbackReasonOf(Buffer.from(JSON.stringify(body(type, message))));
  expect(reason('invalid_request_error', 'prompt is too long: 208656 tokens > 200000 maximum')).toBe('context_window');
  expect(reason('invalid_request_error', 'Output blocked by content filtering policy')).toBe('content_policy');
  expect(reason('invalid_request_error', 'messages: at least one message is required')).toBeNull();
  expect(reason('overloaded_error', 'prompt is too long')).toBeNull();
  expect(fallbackReasonOf(Buffer.from('not json'))).toBeNull();
});

/** Google errors as OpenAI errors, with the status an OpenAI client expects and the kind the router acts on. */
import { describe, expect, it } from 'vitest';
import { fallbackReasonOf, toOpenAiError } from '../../../../src/providers/gemini/errors.js';

const body = (code: number, status: string, message: string, details?: unknown[]) => ({ error: { code, message, status, ...(details === undefined ? {} : { details }) } });
const KEY_INVALID = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }];

describe('toOpenAiError', () => {
  it.each([
    [400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "tags": Cannot find field.', undefined, 'invalid_request', 'invalid_request_error', null],
    [400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).', undefined, 'context_window', 'invalid_request_error', 'context_length_exceeded'],
    [400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', KEY_INVALID, 'auth', 'authentication_error', 'invalid_api_key'],
    [400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.', undefined, 'auth', 'permission_error', 'failed_precondition'],
    [401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', undefined, 'auth', 'authentication_error', 'invalid_api_key'],
    [403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers", undefined, 'auth', 'permission_error', 'permission_error'],
    [404, 'NOT_FOUND', 'models/gemini-9 is not found for API version v1beta', undefined, 'invalid_request', 'not_found_error', 'not_found'],
    [429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', undefined, 'rate_limited', 'rate_limit_error', 'rate_limit_exceeded'],
    [500, 'INTERNAL', 'An internal error has occurred.', undefined, 'server_error', 'server_error', 'internal_error'],
    [503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.', undefined, 'overloaded', 'service_unavailable_error', 'overloaded'],
    [504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.', undefined, 'server_error', 'server_error', 'timeout'],
  ])('%s %s (%s) → %s', (code, status, message, details, kind, type, openAiCode) => {
    expect(toOpenAiError(code, body(code, status, message, details))).toEqual({ status: code, kind, body: { error: { message, type, param: null, code: openAiCode } } });
  });

  it("a stream's error event (no status): the error's own code", () => {
    expect(toOpenAiError(null, body(503, 'UNAVAILABLE', 'overloaded'))).toMatchObject({ status: 503, kind: 'overloaded' });
  });

  it('a blocked prompt (a 200 without candidates) is a content-policy refusal', () => {
    expect(toOpenAiError(200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } })).toMatchObject({
      status: 400,
      kind: 'content_policy',
      body: { error: { type: 'invalid_request_error', code: 'content_filter', message: expect.stringContaining('PROHIBITED_CONTENT') } },
    });
  });

  it.each([
    [429, 'rate_limited'],
    [503, 'overloaded'],
    [502, 'server_error'],
    [401, 'auth'],
    [422, 'invalid_request'],
  ])('a body that is not Google’s, status %s: read by its status as %s', (status, kind) => {
    for (const b of ['<html>gateway</html>', null]) {
      expect(toOpenAiError(status, b)).toMatchObject({ status, kind, body: { error: { message: `The provider answered with status ${status}.` } } });
    }
  });
});

it('fallbackReasonOf: a context-window refusal or a blocked prompt another deployment may serve; nothing else', () => {
  const reason = (b: unknown) => fallbackReasonOf(Buffer.from(JSON.stringify(b)));
  expect(reason(body(400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).'))).toBe('context_window');
  expect(reason({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3 } })).toBe('content_policy');
  expect(reason(body(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n'))).toBeNull();
  expect(fallbackReasonOf(Buffer.from('not json'))).toBeNull();
});

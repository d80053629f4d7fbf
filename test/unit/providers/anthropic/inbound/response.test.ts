/**
 * OpenAI answers translated for Anthropic SDK clients: a chat.completion read by the official
 * `@anthropic-ai/sdk` as the message it carried, and OpenAI (and router) errors raised by the SDK
 * as the Anthropic error class and type of their status.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../../../../src/errors.js';
import { anthropicErrorOf } from '../../../../../src/providers/anthropic/inbound/errors.js';
import { anthropicTranslator } from '../../../../../src/providers/anthropic/inbound/observe.js';
import { toAnthropicMessage } from '../../../../../src/providers/anthropic/inbound/response.js';
import { ASK, sdkClient } from '../../../../support/anthropic-client.js';
import { feed } from '../../../../support/streams.js';

const completion = (message: object, finishReason: string, usage: object = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 30 } }) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason: finishReason }],
  usage,
});

/** The body an Anthropic client gets for an OpenAI JSON body at `status`, and what the observer reports. */
function translated(body: object, status = 200) {
  const observer = anthropicTranslator('application/json', status)!;
  const bytes = feed(observer, [Buffer.from(JSON.stringify(body))]);
  return { bytes, report: observer.report() };
}

describe('chat.completion → Message', () => {
  it('text and tool calls, read by the SDK: content blocks, stop reason, usage with cache reads apart', async () => {
    const body = completion(
      {
        content: 'Checking.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } },
          { id: 'call_2', type: 'function', function: { name: 'time', arguments: '' } },
        ],
      },
      'tool_calls',
    );
    const { bytes, report } = translated(body);
    const message = await sdkClient(bytes, 200, 'application/json').messages.create(ASK);
    expect(message).toEqual({
      id: 'chatcmpl-1',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-2024-08-06',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Zürich' } },
        { type: 'tool_use', id: 'call_2', name: 'time', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 70, cache_creation_input_tokens: 0, cache_read_input_tokens: 30, output_tokens: 20 },
    });
    expect(report).toEqual({
      usage: { promptTokens: 100, cachedPromptTokens: 30, completionTokens: 20, reasoningTokens: 0, totalTokens: 120 },
      responseModel: 'gpt-4o-2024-08-06',
      contentEvents: 0,
      complete: true,
    });
  });

  it.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['function_call', 'tool_use'],
    ['content_filter', 'refusal'],
  ])('finish_reason %s → stop_reason %s', (finish, stop) => {
    expect(toAnthropicMessage(completion({ content: 'x' }, finish))).toMatchObject({ stop_reason: stop, stop_sequence: null });
  });

  it("a refusal is what the model said; a cut call's arguments that do not parse become an empty input", () => {
    const message = toAnthropicMessage(completion({ content: null, refusal: 'I cannot help with that.', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }, 'length'));
    expect(message.content).toEqual([
      { type: 'text', text: 'I cannot help with that.' },
      { type: 'tool_use', id: 'c', name: 'f', input: {} },
    ]);
  });
});

describe('errors', () => {
  it.each([
    [400, 'invalid_request_error', 400, Anthropic.BadRequestError],
    [401, 'authentication_error', 401, Anthropic.AuthenticationError],
    [403, 'permission_error', 403, Anthropic.PermissionDeniedError],
    [404, 'not_found_error', 404, Anthropic.NotFoundError],
    [429, 'rate_limit_error', 429, Anthropic.RateLimitError],
    [500, 'api_error', 500, Anthropic.InternalServerError],
    [503, 'overloaded_error', 529, Anthropic.InternalServerError],
  ])('OpenAI %i → %s at %i, raised by the SDK as its class', async (status, type, clientStatus, sdkClass) => {
    const { bytes, report } = translated({ error: { message: 'It went wrong.', type: 'whatever', param: null, code: null } }, status);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({ type: 'error', error: { type, message: 'It went wrong.' } });
    expect(report).toMatchObject({ usage: null, complete: false });
    expect(anthropicErrorOf(status, {}).status).toBe(clientStatus);
    const call = sdkClient(bytes, clientStatus, 'application/json').messages.create(ASK);
    await expect(call).rejects.toBeInstanceOf(sdkClass);
    await expect(call).rejects.toMatchObject({ status: clientStatus, type, error: { error: { type, message: 'It went wrong.' } } });
  });

  it("the router's own refusals read the same way (a budget spent, a bad key)", () => {
    const budget = new RouterError('budget_exceeded', 'Budget spent.');
    expect(anthropicErrorOf(budget.status, budget.toJSON())).toEqual({ status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'Budget spent.' } } });
    const key = new RouterError('invalid_api_key', 'Bad key.');
    expect(anthropicErrorOf(key.status, key.toJSON()).body.error.type).toBe('authentication_error');
  });

  it('a body that is not an OpenAI error or answer passes as it came', () => {
    const page = Buffer.from('<html>Bad gateway</html>');
    const observer = anthropicTranslator('application/json', 502)!;
    expect(feed(observer, [page]).equals(page)).toBe(true);
    expect(anthropicTranslator('text/plain', 502)).toBeNull();
  });
});

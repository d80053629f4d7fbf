/**
 * Anthropic JSON answers as OpenAI chat completions, and their usage in the router's terms.
 */
import { toolCallCompletionOf } from '../../../support/openai-chunks.js';
import { describe, expect, it } from 'vitest';
import { finishReasonOf, JsonResponseTranslator, toOpenAiCompletion, usageOf } from '../../../../src/providers/anthropic/response.js';
import { feed } from '../../../support/streams.js';

const CREATED = 1_760_000_000;

/** An Anthropic `Message` as the API returns it: text, then a tool call, with prompt-cache usage. */
const MESSAGE = {
  id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'text', text: 'Let me check ' },
    { type: 'text', text: 'the weather in 東京.' },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: '東京', unit: 'celsius' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 20, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 55, output_tokens_details: { thinking_tokens: 12 }, service_tier: 'standard' },
};

/** Built by the shared helper, which holds it to the SDK's `ChatCompletion` shape. */
const COMPLETION = toolCallCompletionOf(
  { id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', model: 'claude-sonnet-4-5-20250929', created: CREATED },
  'Let me check the weather in 東京.',
  { id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', arguments: '{"location":"東京","unit":"celsius"}' },
  { prompt_tokens: 2120, completion_tokens: 55, total_tokens: 2175, prompt_tokens_details: { cached_tokens: 2000 }, completion_tokens_details: { reasoning_tokens: 12 } },
);

describe('toOpenAiCompletion', () => {
  it('joins text blocks, turns tool_use blocks into tool calls with JSON arguments, counts every prompt token', () => {
    expect(toOpenAiCompletion(MESSAGE, CREATED)).toEqual(COMPLETION);
  });

  it('content is null when the answer is only tool calls; blocks without an OpenAI counterpart are left out', () => {
    const out = toOpenAiCompletion({ ...MESSAGE, content: [{ type: 'thinking', thinking: 'hmm', signature: 's' }, MESSAGE.content[2]] }, CREATED);
    expect((out.choices as Array<{ message: { content: unknown; tool_calls: unknown[] } }>)[0]!.message).toMatchObject({ content: null, tool_calls: [expect.any(Object)] });
  });

  it('an answer with text only has no tool_calls member', () => {
    const out = toOpenAiCompletion({ ...MESSAGE, content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn' }, CREATED);
    expect((out.choices as unknown[])[0]).toEqual({ index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, logprobs: null, finish_reason: 'stop' });
  });
});

it.each([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  ['pause_turn', 'stop'],
  ['max_tokens', 'length'],
  ['model_context_window_exceeded', 'length'],
  ['tool_use', 'tool_calls'],
  ['refusal', 'content_filter'],
  ['a_reason_added_later', 'stop'],
  [null, 'stop'],
])('stop_reason %s → finish_reason %s', (stop, finish) => {
  expect(finishReasonOf(stop)).toBe(finish);
});

it('usage: prompt = input + cache reads + cache writes, cached = cache reads; missing, null or negative counts are 0', () => {
  expect(usageOf(MESSAGE.usage)).toEqual({ promptTokens: 2120, cachedPromptTokens: 2000, completionTokens: 55, reasoningTokens: 12, totalTokens: 2175 });
  expect(usageOf({ input_tokens: 7, cache_read_input_tokens: null, output_tokens: -1 })).toEqual({ promptTokens: 7, cachedPromptTokens: 0, completionTokens: 0, reasoningTokens: 0, totalTokens: 7 });
});

describe('JsonResponseTranslator', () => {
  const body = Buffer.from(JSON.stringify(MESSAGE));

  it('gives the client nothing until the body ended, then the chat completion; reports usage and model', () => {
    for (const at of [1, 17, body.length - 1]) {
      const t = new JsonResponseTranslator(CREATED);
      expect(t.push(body.subarray(0, at), false).length).toBe(0);
      expect(JSON.parse(t.push(body.subarray(at), true).toString('utf8'))).toEqual(COMPLETION);
      expect(t.report()).toEqual({
        usage: { promptTokens: 2120, cachedPromptTokens: 2000, completionTokens: 55, reasoningTokens: 12, totalTokens: 2175 },
        responseModel: 'claude-sonnet-4-5-20250929',
        contentEvents: 0,
        complete: true,
      });
    }
  });

  it('an Anthropic error body becomes an OpenAI error body', () => {
    const t = new JsonResponseTranslator(CREATED);
    const error = { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' }, request_id: 'req_1' };
    expect(JSON.parse(feed(t, [Buffer.from(JSON.stringify(error))]).toString('utf8'))).toEqual({
      error: { message: error.error.message, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
    expect(t.report()).toMatchObject({ usage: null, complete: false });
  });

  it("a body that is neither (a proxy's page, other JSON) reaches the client as it came", () => {
    for (const raw of ['<html>502 Bad Gateway</html>', '{"unexpected":true}']) {
      const t = new JsonResponseTranslator(CREATED);
      expect(feed(t, [Buffer.from(raw.slice(0, 5)), Buffer.from(raw.slice(5))]).toString('utf8')).toBe(raw);
      expect(t.report()).toMatchObject({ usage: null, complete: false });
    }
  });
});

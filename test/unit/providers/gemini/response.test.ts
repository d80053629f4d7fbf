/** Gemini JSON answers as OpenAI chat completions, and their usage in the router's terms. */
import { toolCallCompletionOf } from '../../../support/openai-chunks.js';
import { describe, expect, it } from 'vitest';
import { JsonTranslator } from '../../../../src/providers/json-translator.js';
import { finishReasonOf, toOpenAiCompletion, translateJson, usageOf } from '../../../../src/providers/gemini/response.js';
import { feed } from '../../../support/streams.js';

const CREATED = 1_760_000_000;

/** A GenerateContentResponse: a thought, text in two parts, a function call, cached and thinking usage. */
const RESPONSE = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [{ text: 'Thinking…', thought: true }, { text: 'Let me check ' }, { text: 'the weather in 東京.' }, { functionCall: { name: 'get_weather', args: { location: '東京' } }, thoughtSignature: 'c2ln' }],
      },
      finishReason: 'STOP',
      index: 0,
      safetyRatings: [],
    },
  ],
  usageMetadata: { promptTokenCount: 2100, candidatesTokenCount: 40, totalTokenCount: 2155, cachedContentTokenCount: 2000, thoughtsTokenCount: 15 },
  modelVersion: 'gemini-2.5-pro',
  responseId: 'Zq3PaNy0KMeQ1dkP7uOQiA0',
};

const COMPLETION = toolCallCompletionOf(
  { id: 'Zq3PaNy0KMeQ1dkP7uOQiA0', model: 'gemini-2.5-pro', created: CREATED },
  'Let me check the weather in 東京.',
  { id: 'call_Zq3PaNy0KMeQ1dkP7uOQiA0_0_0', name: 'get_weather', arguments: '{"location":"東京"}' },
  { prompt_tokens: 2100, completion_tokens: 55, total_tokens: 2155, prompt_tokens_details: { cached_tokens: 2000 }, completion_tokens_details: { reasoning_tokens: 15 } },
);

describe('toOpenAiCompletion', () => {
  it('joins text parts without thoughts, function calls as tool calls with JSON arguments, thinking billed as completion', () => {
    expect(toOpenAiCompletion(RESPONSE, CREATED)).toEqual(COMPLETION);
  });

  it('several candidates are choices in index order', () => {
    const candidates = [1, 0].map((index) => ({ content: { parts: [{ text: `c${index}` }] }, finishReason: 'STOP', index }));
    const out = toOpenAiCompletion({ ...RESPONSE, candidates }, CREATED) as { choices: Array<{ index: number; message: { content: string } }> };
    expect(out.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, 'c0'],
      [1, 'c1'],
    ]);
  });

  it('a blocked prompt: one choice without content, finish_reason content_filter', () => {
    const out = toOpenAiCompletion({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 7 } }, CREATED);
    expect(out.choices).toEqual([{ index: 0, message: { role: 'assistant', content: null, refusal: null }, logprobs: null, finish_reason: 'content_filter' }]);
  });
});

it.each([
  ['STOP', false, 'stop'],
  ['STOP', true, 'tool_calls'],
  ['MAX_TOKENS', false, 'length'],
  ['SAFETY', false, 'content_filter'],
  ['BLOCKLIST', false, 'content_filter'],
  ['MALFORMED_FUNCTION_CALL', false, 'stop'],
  ['A_REASON_ADDED_LATER', false, 'stop'],
])('finishReason %s (calls %s) → %s', (reason, calls, finish) => {
  expect(finishReasonOf(reason, calls)).toBe(finish);
});

it('usage: tool-use prompt tokens are prompt tokens; missing or negative counts are 0', () => {
  expect(usageOf({ promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: -1 })).toEqual({ promptTokens: 15, cachedPromptTokens: 0, completionTokens: 0, reasoningTokens: 0, totalTokens: 15 });
});

describe('the JSON translator', () => {
  const body = Buffer.from(JSON.stringify(RESPONSE));

  it('gives the client nothing until the body ended, then the chat completion; reports usage and model', () => {
    const t = new JsonTranslator(translateJson(CREATED));
    expect(t.push(body.subarray(0, 10), false).length).toBe(0);
    expect(JSON.parse(t.push(body.subarray(10), true).toString('utf8'))).toEqual(COMPLETION);
    expect(t.report()).toEqual({ usage: { promptTokens: 2100, cachedPromptTokens: 2000, completionTokens: 55, reasoningTokens: 15, totalTokens: 2155 }, responseModel: 'gemini-2.5-pro', contentEvents: 0, complete: true });
  });

  it('a Google error body becomes an OpenAI error body; other bodies pass as they came', () => {
    const t = new JsonTranslator(translateJson(CREATED));
    const error = { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } };
    expect(JSON.parse(feed(t, [Buffer.from(JSON.stringify(error))]).toString('utf8'))).toEqual({ error: { message: error.error.message, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
    expect(t.report()).toMatchObject({ usage: null, complete: false });
    for (const raw of ['<html>502</html>', '{"unexpected":true}']) expect(feed(new JsonTranslator(translateJson(CREATED)), [Buffer.from(raw)]).toString('utf8')).toBe(raw);
  });
});

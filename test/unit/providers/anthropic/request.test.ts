/**
 * OpenAI chat requests as Anthropic Messages requests: each OpenAI feature lands where Anthropic
 * reads it, every body passes the strict Anthropic mock's checks (the parameters
 * `@anthropic-ai/sdk` declares), and what cannot be translated is a 400 naming the parameter.
 */
import { describe, expect, it } from 'vitest';
import { anthropicFormat } from '../../../../src/mock/anthropic/format.js';
import { DEFAULT_MAX_TOKENS, fromOpenAiRequest } from '../../../../src/providers/anthropic/request.js';
import { refusalOf } from '../../../support/refusal.js';

const MODEL = 'claude-sonnet-4-5-20250929';
const USER = { role: 'user', content: 'Hi' };

function translate(body: Record<string, unknown>, defaultMaxTokens?: number): Record<string, unknown> {
  const bytes = fromOpenAiRequest({ model: 'claude', ...body }, { model: MODEL, ...(defaultMaxTokens === undefined ? {} : { defaultMaxTokens }) });
  const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  // What the real API would accept at the top level: the strict mock checks the SDK's parameter list.
  expect(anthropicFormat.checkBody('chat', parsed)).toBeNull();
  return parsed;
}

const refusal = (body: Record<string, unknown>) => refusalOf(() => fromOpenAiRequest({ model: 'claude', ...body }, { model: MODEL }));

describe('conversation', () => {
  it('system and developer messages become system blocks, in order, wherever they stood', () => {
    const out = translate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        USER,
        { role: 'system', content: 'Never mention the weather.' },
      ],
    });
    expect(out.system).toEqual([
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Answer in French.' },
      { type: 'text', text: 'Never mention the weather.' },
    ]);
    expect(out.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  it('text and image parts: a data: URL becomes a base64 source, an https URL a url source', () => {
    const out = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(out.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it('a tool round trip: tool_calls → tool_use blocks (arguments parsed), tool messages → tool_result blocks in one user turn, text after them', () => {
    const out = translate({
      messages: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '4°C' }] },
        { role: 'user', content: 'And tomorrow?' },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Oslo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18°C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '4°C' }] },
          { type: 'text', text: 'And tomorrow?' },
        ],
      },
    ]);
  });

  it('tool results lead their user turn even when a user message came between the tool call and its result', () => {
    const out = translate({
      messages: [
        USER,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'now', arguments: '' } }] },
        { role: 'user', content: 'hurry' },
        { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'now', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '12:00' },
          { type: 'text', text: 'hurry' },
        ],
      },
    ]);
  });

  it('consecutive messages of one role become one turn; empty messages and empty text add nothing', () => {
    const out = translate({
      messages: [
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }, { type: 'text', text: '' }] },
        { role: 'assistant', content: '' },
        { role: 'user', content: '' },
        { role: 'assistant', content: [{ type: 'text', text: 'three' }, { type: 'refusal', refusal: 'no' }] },
        { role: 'assistant', content: 'four' },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'three' },
          { type: 'text', text: 'no' },
          { type: 'text', text: 'four' },
        ],
      },
    ]);
  });
  it('a message of more parts than a call can spread is translated, not a stack overflow', () => {
    const parts = Array.from({ length: 200_000 }, () => ({ type: 'text', text: 'a' }));
    const out = translate({ messages: [{ role: 'system', content: parts }, { role: 'assistant', content: parts }, { role: 'tool', tool_call_id: 'c', content: parts }] });
    expect((out.system as unknown[]).length).toBe(parts.length);
    expect((out.messages as Array<{ content: unknown[] }>).map((m) => m.content.length)).toEqual([parts.length, 1]);
  });
});

describe('parameters', () => {
  it.each([
    ['max_completion_tokens over max_tokens', { max_completion_tokens: 300, max_tokens: 100 }, undefined, 300],
    ['max_tokens', { max_tokens: 100 }, undefined, 100],
    ['the given default when neither is set', {}, 2048, 2048],
    ['the built-in default without one', { max_tokens: null }, undefined, DEFAULT_MAX_TOKENS],
  ])('max_tokens: %s', (_name, fields, fallback, expected) => {
    expect(translate({ messages: [USER], ...fields }, fallback).max_tokens).toBe(expected);
  });

  it.each([
    ['a string', 'END', ['END']],
    ['a list', ['END', '###'], ['END', '###']],
    ['an empty list', [], undefined],
    ['null', null, undefined],
  ])('stop as %s → stop_sequences', (_name, stop, expected) => {
    expect(translate({ messages: [USER], stop }).stop_sequences).toEqual(expected);
  });

  it.each([
    [0.3, 0.3],
    [1, 1],
    [1.7, 1],
    [0, 0],
  ])('temperature %s → %s (Anthropic takes 0 to 1)', (temperature, expected) => {
    expect(translate({ messages: [USER], temperature }).temperature).toBe(expected);
  });

  it('top_p, top_k, stream, model and the user id are carried; OpenAI-only hints and the router fields are not', () => {
    const out = translate({
      messages: [USER],
      top_p: 0.9,
      top_k: 40,
      stream: true,
      stream_options: { include_usage: true },
      user: 'user-42',
      n: 1,
      logprobs: false,
      frequency_penalty: 0.5,
      presence_penalty: 0.1,
      seed: 7,
      store: true,
      metadata: { team: 'a', tags: ['x'] },
      service_tier: 'auto',
      reasoning_effort: 'low',
      verbosity: 'low',
      prompt_cache_key: 'k',
      prediction: { type: 'content', content: 'x' },
      modalities: ['text'],
      logit_bias: {},
      tags: ['batch'],
      disable_fallbacks: true,
      response_format: { type: 'text' },
    });
    expect(out).toEqual({
      model: MODEL,
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      top_p: 0.9,
      top_k: 40,
      stream: true,
      metadata: { user_id: 'user-42' },
    });
  });

  it('safety_identifier is the user id when user is not set', () => {
    expect(translate({ messages: [USER], safety_identifier: 'h-9' }).metadata).toEqual({ user_id: 'h-9' });
  });

  it('a JSON schema response format → output_config.format', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    expect(translate({ messages: [USER], response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }).output_config).toEqual({
      format: { type: 'json_schema', schema },
    });
  });
});

describe('tools', () => {
  const weather = { type: 'function', function: { name: 'weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } };
  const now = { type: 'function', function: { name: 'now' } };

  it('function tools → name, description, input_schema (an empty object schema when it has no parameters), strict', () => {
    expect(translate({ messages: [USER], tools: [weather, now] }).tools).toEqual([
      { name: 'weather', description: 'Current weather', input_schema: weather.function.parameters, strict: true },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  it.each([
    ['auto', undefined, { type: 'auto' }],
    ['none', undefined, { type: 'none' }],
    ['required', undefined, { type: 'any' }],
    [{ type: 'function', function: { name: 'now' } }, undefined, { type: 'tool', name: 'now' }],
    ['required', false, { type: 'any', disable_parallel_tool_use: true }],
    [undefined, false, { type: 'auto', disable_parallel_tool_use: true }],
    ['none', false, { type: 'none' }],
    [undefined, true, undefined],
  ])('tool_choice %j with parallel_tool_calls %s → %j', (toolChoice, parallel, expected) => {
    expect(translate({ messages: [USER], tools: [weather, now], tool_choice: toolChoice, parallel_tool_calls: parallel }).tool_choice).toEqual(expected);
  });
});

describe('refused', () => {
  it.each([
    ['n', { n: 2 }],
    ['logprobs', { logprobs: true }],
    ['top_logprobs', { top_logprobs: 3 }],
    ['audio', { audio: { voice: 'alloy', format: 'mp3' } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['functions', { functions: [{ name: 'f' }] }],
    ['function_call', { function_call: 'auto' }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['web_search_options', { web_search_options: {} }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['tools[0].type', { tools: [{ type: 'custom', custom: { name: 'x' } }] }],
    ['tool_choice', { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } }],
    ['messages[0].content[0].type', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }],
    ['messages[0].content[0].type', { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }],
    ['messages[0].content[0].image_url.url', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] }],
    ['messages[1].function_call', { messages: [USER, { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } }] }],
    ['messages[1].role', { messages: [USER, { role: 'function', name: 'f', content: 'x' }] }],
  ])('%s: a 400 unsupported_parameter naming it', (param, fields) => {
    const err = refusal({ messages: [USER], ...fields });
    expect({ status: err.status, code: err.code, param: err.param, type: err.type }).toEqual({ status: 400, code: 'unsupported_parameter', param, type: 'invalid_request_error' });
    expect(err.message).toMatch(/^Unsupported parameter: '.+'.* is not supported with this model \(served by Anthropic's Messages API\)/);
  });

  it('says what to use instead, when there is something', () => {
    expect(refusal({ messages: [USER], n: 3 }).message).toBe("Unsupported parameter: 'n' above 1 is not supported with this model (served by Anthropic's Messages API); it gives one choice per request.");
    expect(refusal({ messages: [USER], response_format: { type: 'json_object' } }).message).toBe(
      "Unsupported parameter: 'response_format' of type 'json_object' is not supported with this model (served by Anthropic's Messages API); use 'json_schema'.",
    );
  });

  it.each([
    ['messages', { messages: [{ role: 'system', content: 'only a system prompt' }] }],
    ['messages[0].role', { messages: [{ role: 'robot', content: 'x' }] }],
    ['messages[0].content[0].image_url.url', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }],
    ['messages[0].content[0].image_url.url', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png,raw' } }] }] }],
    ['messages[1].tool_calls[0].function.arguments', { messages: [USER, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }] }],
    ['messages[1].tool_calls[0].function.arguments', { messages: [USER, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }],
    ['messages[1].tool_call_id', { messages: [USER, { role: 'tool', content: 'x' }] }],
    ['max_tokens', { max_tokens: 0 }],
    ['temperature', { temperature: 3 }],
    ['stop', { stop: [1] }],
    ['tool_choice', { tool_choice: 'sometimes' }],
  ])('%s: malformed → a 400 invalid_request naming it', (param, fields) => {
    const err = refusal({ messages: [USER], ...fields });
    expect({ status: err.status, code: err.code, param: err.param }).toEqual({ status: 400, code: 'invalid_request', param });
  });
});

it('serialises once: the output is the JSON text of the translated body', () => {
  const bytes = fromOpenAiRequest({ model: 'claude', messages: [USER] }, { model: MODEL });
  expect(Buffer.isBuffer(bytes)).toBe(true);
  expect(bytes.toString('utf8')).toBe(JSON.stringify({ model: MODEL, max_tokens: DEFAULT_MAX_TOKENS, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] }));
});

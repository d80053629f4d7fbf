/**
 * The Bedrock translation: OpenAI requests to Converse bodies, Converse answers and streams to
 * OpenAI (the stream from the golden transcript, split at every byte), Bedrock errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fallbackReasonOf, toOpenAiError } from '../../../../src/providers/bedrock/errors.js';
import { encodeMessage } from '../../../../src/providers/bedrock/eventstream.js';
import { observeResponse } from '../../../../src/providers/bedrock/observe.js';
import { fromOpenAiRequest } from '../../../../src/providers/bedrock/request.js';
import { refusalOf } from '../../../support/refusal.js';

const GOLDEN = Buffer.from(readFileSync(join(import.meta.dirname, '../../../fixtures/streams/bedrock-mock-tool.eventstream.b64'), 'utf8'), 'base64');
const IDENTITY = { id: 'req-1', model: 'anthropic.claude-3-haiku-20240307-v1:0', createdSec: 1700000000 };
const converse = (body: Record<string, unknown>) => JSON.parse(fromOpenAiRequest(body).toString('utf8')) as Record<string, unknown>;
const refusal = (body: Record<string, unknown>) => refusalOf(() => fromOpenAiRequest(body));

describe('Bedrock request', () => {
  it('translates a conversation with system, images, tools and tool results', () => {
    const out = converse({
      model: 'gpt-4o',
      tags: ['a'],
      user: 'u1',
      stream: true,
      max_tokens: 100,
      temperature: 1.5,
      top_p: 0.9,
      stop: 'END',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
    });
    expect(out).toEqual({
      messages: [
        { role: 'user', content: [{ text: 'Weather?' }, { image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: 'Sunny' }] } }] },
      ],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 100, temperature: 1, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } }, description: 'Weather now' } }],
        toolChoice: { any: {} },
      },
    });
  });

  it('sends no inference settings the client did not set, and a named tool choice as {tool}', () => {
    const out = converse({ messages: [{ role: 'user', content: 'Hi' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'f' } } });
    expect(out.inferenceConfig).toBeUndefined();
    expect(out.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: {} } } } }], toolChoice: { tool: { name: 'f' } } });
  });

  it("refuses what Converse cannot do, naming Bedrock's API, including refusals shared with Anthropic", () => {
    const user = { role: 'user', content: 'Hi' };
    for (const [body, param] of [
      [{ messages: [user], n: 2 }, 'n'],
      [{ messages: [user], tool_choice: 'none', tools: [] }, 'tool_choice'],
      [{ messages: [user], parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ messages: [user], response_format: { type: 'json_object' } }, 'response_format'],
      [{ messages: [user], top_k: 3 }, 'top_k'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'messages[0].content[0].image_url.url'],
    ] as const) {
      const err = refusal(body);
      expect(err.code).toBe('unsupported_parameter');
      expect(err.param).toBe(param);
      expect(err.message).toContain("served by Amazon Bedrock's Converse API");
    }
    expect(refusal({ messages: [] }).code).toBe('invalid_request');
  });
});

describe('Bedrock responses', () => {
  it('translates a Converse answer with usage, cache tokens and a tool call', () => {
    const observer = observeResponse('application/json', { ...IDENTITY, hideUsageEvent: true, errorType: null })!;
    const answer = {
      output: { message: { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 't1', name: 'get_weather', input: { city: 'Paris' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 5, totalTokens: 25, cacheReadInputTokens: 6, cacheWriteInputTokens: 4 },
      metrics: { latencyMs: 12 },
    };
    const bytes = Buffer.from(JSON.stringify(answer));
    expect(observer.push(bytes.subarray(0, 7), false)).toEqual(Buffer.alloc(0));
    const out = JSON.parse(observer.push(bytes.subarray(7), true)!.toString());
    expect(out).toEqual({
      id: 'req-1',
      object: 'chat.completion',
      created: 1700000000,
      model: IDENTITY.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Checking.', refusal: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 6 }, completion_tokens_details: { reasoning_tokens: 0 } },
    });
    expect(observer.report()).toEqual({ usage: { promptTokens: 20, cachedPromptTokens: 6, completionTokens: 5, reasoningTokens: 0, totalTokens: 25 }, responseModel: IDENTITY.model, contentEvents: 0, complete: true });
  });

  it('translates an error body by its x-amzn-errortype', () => {
    const observer = observeResponse('application/json', { ...IDENTITY, hideUsageEvent: true, errorType: 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' })!;
    expect(JSON.parse(observer.push(Buffer.from('{"message":"Too many requests, please wait before trying again."}'), true)!.toString())).toEqual({
      error: { message: 'Too many requests, please wait before trying again.', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
    expect(observer.report().complete).toBe(false);
  });

  it('translates the golden ConverseStream transcript identically split at every byte', () => {
    const run = (cut: number): string => {
      const observer = observeResponse('application/vnd.amazon.eventstream', { ...IDENTITY, hideUsageEvent: false, errorType: null })!;
      return observer.push(GOLDEN.subarray(0, cut), false)!.toString() + observer.push(GOLDEN.subarray(cut), true)!.toString();
    };
    const whole = run(GOLDEN.length);
    const events = whole.split('\n\n').filter((e) => e !== '').map((e) => e.slice('data: '.length));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }>; usage?: unknown });
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('')).toBe('Hello wörld,');
    const toolDeltas = chunks.flatMap((c) => c.choices.flatMap((ch) => (ch.delta.tool_calls as unknown[] | undefined) ?? []));
    expect(toolDeltas).toEqual([
      { index: 0, id: 'tooluse_mock_golden_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 0, function: { arguments: '{}' } },
    ]);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    for (let cut = 0; cut <= GOLDEN.length; cut++) expect(run(cut)).toBe(whole);
  });

  it('reports usage and completeness of a stream, and ends a cut or corrupt one with an error event', () => {
    const observer = observeResponse('application/vnd.amazon.eventstream', { ...IDENTITY, hideUsageEvent: true, errorType: null })!;
    observer.push(GOLDEN, true);
    expect(observer.report()).toEqual({ usage: { promptTokens: 5, cachedPromptTokens: 0, completionTokens: 4, reasoningTokens: 0, totalTokens: 9 }, responseModel: IDENTITY.model, contentEvents: 4, complete: true });
    const cut = observeResponse('application/vnd.amazon.eventstream', { ...IDENTITY, hideUsageEvent: true, errorType: null })!;
    expect(cut.push(GOLDEN.subarray(0, 200), true)!.toString()).toContain('upstream_stream_truncated');
    const corrupt = Buffer.from(GOLDEN);
    corrupt[150] = corrupt[150]! ^ 0xff;
    const broken = observeResponse('application/vnd.amazon.eventstream', { ...IDENTITY, hideUsageEvent: true, errorType: null })!;
    expect(broken.push(corrupt, true)!.toString()).toContain('upstream_stream_malformed');
    expect(broken.report().complete).toBe(false);
  });

  it('turns an exception event into an OpenAI error event and stops there', () => {
    const exception = encodeMessage(
      [
        [':message-type', 'exception'],
        [':exception-type', 'serviceUnavailableException'],
        [':content-type', 'application/json'],
      ],
      Buffer.from('{"message":"Service is unavailable."}'),
    );
    const observer = observeResponse('application/vnd.amazon.eventstream', { ...IDENTITY, hideUsageEvent: true, errorType: null })!;
    const out = observer.push(Buffer.concat([GOLDEN.subarray(0, 0), exception, GOLDEN]), true)!.toString();
    expect(out).toBe('data: {"error":{"message":"Service is unavailable.","type":"service_unavailable_error","param":null,"code":"overloaded"}}\n\n');
  });
});

describe('Bedrock errors', () => {
  it('maps each error type to a status, a kind and an OpenAI error', () => {
    expect(toOpenAiError(429, 'ThrottlingException', { message: 'slow down' })).toMatchObject({ status: 429, kind: 'rate_limited' });
    expect(toOpenAiError(429, 'ModelNotReadyException', { message: 'not ready' })).toMatchObject({ status: 503, kind: 'overloaded' });
    expect(toOpenAiError(503, 'ServiceUnavailableException', { message: 'x' })).toMatchObject({ status: 503, kind: 'overloaded' });
    expect(toOpenAiError(403, 'AccessDeniedException', { message: 'x' })).toMatchObject({ status: 403, kind: 'auth', body: { error: { type: 'permission_error' } } });
    expect(toOpenAiError(400, 'ValidationException', { message: 'Input is too long for requested model.' })).toMatchObject({
      status: 400,
      kind: 'context_window',
      body: { error: { code: 'context_length_exceeded' } },
    });
    expect(toOpenAiError(400, 'ValidationException', { message: 'Malformed input request' })).toMatchObject({ kind: 'invalid_request' });
    expect(toOpenAiError(502, null, null)).toMatchObject({ status: 502, kind: 'server_error' });
  });

  it('names a context-window refusal as a fallback reason', () => {
    expect(fallbackReasonOf(Buffer.from('{"message":"Input is too long for requested model."}'))).toBe('context_window');
    expect(fallbackReasonOf(Buffer.from('{"message":"Malformed input request"}'))).toBeNull();
    expect(fallbackReasonOf(Buffer.from('<html>'))).toBeNull();
  });
});

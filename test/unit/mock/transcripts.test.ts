/**
 * Golden stream transcripts: what the mock sends (byte for byte, `test/fixtures/streams/*-mock.sse`)
 * and how it compares with the stream each provider documents (`*-documented.sse`): the same events
 * in the same order, and every field the documented events carry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MockInstanceConfig } from '../../../src/mock/behaviour.js';
import { startMockInstance } from '../../../src/mock/server.js';
import { sseEvents, type SseEvent } from '../../support/sse-events.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/streams');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

const ANTHROPIC_HEADERS = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };
const GEMINI_HEADERS = { 'x-goog-api-key': 'k' };
const GEMINI_STREAM = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse';
const CASES: ReadonlyArray<[file: string, config: Partial<MockInstanceConfig>, path: string, headers: Record<string, string>, body: object]> = [
  ['openai-mock.sse', { format: 'openai' }, '/v1/chat/completions', {}, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], stream: true, stream_options: { include_usage: true } }],
  ['anthropic-mock.sse', { format: 'anthropic' }, '/v1/messages', ANTHROPIC_HEADERS, { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello' }], stream: true }],
  [
    'anthropic-mock-tool.sse',
    { format: 'anthropic' },
    '/v1/messages',
    ANTHROPIC_HEADERS,
    {
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ name: 'get_weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      stream: true,
    },
  ],
  ['gemini-mock.sse', { format: 'gemini' }, GEMINI_STREAM, GEMINI_HEADERS, { contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] }],
  [
    'gemini-mock-tool.sse',
    { format: 'gemini' },
    GEMINI_STREAM,
    GEMINI_HEADERS,
    {
      contents: [{ role: 'user', parts: [{ text: 'Weather in Paris?' }] }],
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Current weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }],
    },
  ],
];

/** The mock's transcript for a request, `created` pinned (the only field that depends on the clock). */
async function transcript(config: Partial<MockInstanceConfig>, path: string, headers: Record<string, string>, body: object): Promise<string> {
  const mock = await startMockInstance({ name: 'golden', port: 0, behaviour: { chunks: 3 }, ...config });
  try {
    const res = await fetch(`http://127.0.0.1:${mock.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    return (await res.text()).replace(/"created":\d+/g, '"created":0');
  } finally {
    await mock.close();
  }
}

/** Every key path of `documented` exists in `actual` (values may differ; arrays compared by their first element). */
function missingKeys(documented: unknown, actual: unknown, at = ''): string[] {
  if (typeof documented !== 'object' || documented === null) return [];
  if (typeof actual !== 'object' || actual === null) return [at || '(root)'];
  if (Array.isArray(documented)) return documented.length === 0 ? [] : missingKeys(documented[0], (actual as unknown[])[0], `${at}[0]`);
  return Object.entries(documented).flatMap(([k, v]) => (k in actual ? missingKeys(v, (actual as Record<string, unknown>)[k], `${at}.${k}`) : [`${at}.${k}`]));
}

/** A stream's shape: one entry per run of same-kind events (so 2 text deltas and 14 are alike). */
function shape(events: readonly SseEvent[], kindOf: (e: SseEvent) => string): string[] {
  const kinds = events.map(kindOf);
  return kinds.filter((k, i) => k !== kinds[i - 1]);
}

const openaiKind = (e: SseEvent): string => {
  if (e.data === '[DONE]') return 'done';
  const chunk = JSON.parse(e.data) as { choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }> };
  const choice = chunk.choices[0];
  if (choice === undefined) return 'usage';
  if (choice.finish_reason !== null) return `finish:${choice.finish_reason}`;
  return 'role' in choice.delta ? 'role' : 'content';
};

const anthropicKind = (e: SseEvent): string => {
  const data = JSON.parse(e.data) as { type: string; delta?: { type?: string }; content_block?: { type: string } };
  expect(data.type).toBe(e.event); // the event name repeats the data's type
  return [data.type, data.delta?.type ?? data.content_block?.type].filter(Boolean).join(':');
};

describe('golden stream transcripts', () => {
  it.each(CASES)('the mock sends %s byte for byte', async (file, config, path, headers, body) => {
    expect(await transcript(config, path, headers, body)).toBe(fixture(file));
  });

  it('OpenAI: the documented chunk sequence, then the include_usage chunk, with every documented field', () => {
    const documented = sseEvents(fixture('openai-documented.sse'));
    const mock = sseEvents(fixture('openai-mock.sse'));
    expect(shape(documented, openaiKind)).toEqual(['role', 'content', 'finish:stop', 'done']);
    expect(shape(mock, openaiKind)).toEqual(['role', 'content', 'finish:stop', 'usage', 'done']);
    const chunks = mock.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Record<string, unknown>);
    for (const [i, e] of documented.filter((d) => d.data !== '[DONE]').entries()) expect(missingKeys(JSON.parse(e.data), chunks[i])).toEqual([]);
    // include_usage: usage null on every chunk but the last, which has no choices.
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } });
  });

  it('Anthropic: the documented event order, with every documented field', () => {
    const documented = sseEvents(fixture('anthropic-documented.sse'));
    const mock = sseEvents(fixture('anthropic-mock.sse'));
    expect(shape(mock, anthropicKind)).toEqual(shape(documented, anthropicKind));
    expect(shape(mock, anthropicKind)).toEqual([
      'message_start',
      'content_block_start:text',
      'ping',
      'content_block_delta:text_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const byType = new Map(mock.map((e) => [e.event, JSON.parse(e.data) as unknown]));
    for (const e of documented) expect(missingKeys(JSON.parse(e.data), byType.get(e.event))).toEqual([]);
  });

  it('Anthropic with tools: a tool_use block after the text, its input as input_json_delta, stop reason tool_use', () => {
    const events = sseEvents(fixture('anthropic-mock-tool.sse'));
    expect(shape(events, anthropicKind)).toEqual([
      'message_start',
      'content_block_start:text',
      'ping',
      'content_block_delta:text_delta',
      'content_block_stop',
      'content_block_start:tool_use',
      'content_block_delta:input_json_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
    // ToolUseBlock in @anthropic-ai/sdk: id, input, name, type.
    expect(data.find((d) => d.type === 'content_block_start' && d.index === 1)).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_mock_golden_1', name: 'get_weather', input: {} },
    });
    expect(data.find((d) => d.type === 'message_delta')).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 4 } });
  });

  it('Gemini: the documented event sequence (text events, the last with its finish reason), with every documented field, CRLF-delimited', () => {
    const documented = sseEvents(fixture('gemini-documented.sse')).map((e) => JSON.parse(e.data) as Record<string, any>);
    const mock = sseEvents(fixture('gemini-mock.sse')).map((e) => JSON.parse(e.data) as Record<string, any>);
    const kind = (r: Record<string, any>): string => (r.candidates[0].finishReason === undefined ? 'text' : `finish:${r.candidates[0].finishReason}`);
    expect([...new Set(mock.map(kind))]).toEqual([...new Set(documented.map(kind))]);
    for (const d of documented) expect(missingKeys(d, kind(d) === 'text' ? mock[0] : mock.at(-1))).toEqual([]);
    expect(fixture('gemini-mock.sse').split('\r\n\r\n').length).toBe(mock.length + 1);
    // Cumulative usage: each event counts the candidate tokens so far.
    expect(mock.map((r) => r.usageMetadata.candidatesTokenCount)).toEqual([1, 2, 3, 3]);
  });

  it('Gemini with tools: a functionCall part after the text, before the finishing event', () => {
    const events = sseEvents(fixture('gemini-mock-tool.sse')).map((e) => JSON.parse(e.data) as Record<string, any>);
    expect(events.at(-2)!.candidates[0].content.parts).toEqual([{ functionCall: { name: 'get_weather', args: {} } }]);
    expect(events.at(-1)).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { candidatesTokenCount: 4 } });
  });
});

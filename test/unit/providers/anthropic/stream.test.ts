/**
 * Anthropic streams translated into OpenAI chunks: the same client bytes and the same report however
 * Envoy slices the stream (whole, byte by byte, split at every offset — inside events, CRLFs and
 * UTF-8 characters), and output the official `openai` SDK's stream parser reads as the answer the
 * Anthropic stream carried: its text, each tool call's arguments as JSON, its finish reason, its
 * usage, or its error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT } from '../../../../src/providers/openai/response.js';
import { observeResponse } from '../../../../src/providers/anthropic/observe.js';
import { ToOpenAiStream } from '../../../../src/providers/anthropic/stream.js';
import { assemble, describeTranscripts, sdkRead, slicings, textStreamOf } from '../../../support/openai-chunks.js';
import { sseEvents } from '../../../support/sse-events.js';
import { feed } from '../../../support/streams.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/streams');
const CREATED = 1_760_000_000;
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const translator = (includeUsage: boolean) => new ToOpenAiStream({ includeUsage, createdSec: CREATED });

/** What the Anthropic transcript carries, read straight from its events (not through the translator). */
interface Expected {
  readonly id: string;
  readonly model: string;
  readonly text: string;
  readonly tools: Array<{ id: string; name: string; input: unknown }>;
  readonly stopReason: string | null;
  readonly error: { readonly message: string; readonly code: string } | null;
}

function expectedOf(transcript: Buffer): Expected {
  let id = '';
  let model = '';
  let text = '';
  const tools: Array<{ id: string; name: string; json: string }> = [];
  let stopReason: string | null = null;
  let error: string | null = null;
  for (const e of sseEvents(transcript.toString('utf8'))) {
    const data = JSON.parse(e.data) as Record<string, any>;
    if (data.type === 'message_start') ({ id, model } = data.message);
    if (data.type === 'content_block_start' && data.content_block.type === 'tool_use') tools.push({ id: data.content_block.id, name: data.content_block.name, json: '' });
    if (data.type === 'content_block_delta' && data.delta.type === 'text_delta') text += data.delta.text;
    if (data.type === 'content_block_delta' && data.delta.type === 'input_json_delta') tools.at(-1)!.json += data.delta.partial_json;
    if (data.type === 'message_delta') stopReason = data.delta.stop_reason;
    if (data.type === 'error') error = data.error.message;
  }
  return { id, model, text, tools: tools.map((t) => ({ id: t.id, name: t.name, input: JSON.parse(t.json || '{}') })), stopReason, error: error === null ? null : { message: error, code: 'overloaded_error' } };
}

const TRANSCRIPTS = ['anthropic-documented.sse', 'anthropic-mock.sse', 'anthropic-mock-tool.sse', 'anthropic-tools.sse', 'anthropic-error.sse'];
const FINISH: Readonly<Record<string, string>> = { end_turn: 'stop', tool_use: 'tool_calls' };

describeTranscripts(TRANSCRIPTS, fixture, expectedOf, translator, CREATED, ({ answer, report }, expected) => {
  expect(answer.calls.map((c) => ({ id: c.id, name: c.name, input: JSON.parse(c.arguments) }))).toEqual(expected.tools);
  if (expected.error !== null) return;
  expect(answer.finishReason).toBe(FINISH[expected.stopReason!]);
  expect(report.usage!.reasoningTokens).toBe(0);
});

describe('translation', () => {
  it('the documented stream, exactly', () => {
    const out = feed(translator(true), [fixture('anthropic-documented.sse')]).toString('utf8');
    const identity = { id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', model: 'claude-3-5-sonnet-20241022', created: CREATED };
    const usage = { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
    expect(out).toBe(textStreamOf(identity, ['Hello', '!'], 'stop', usage));
  });

  it('usage: prompt tokens include cache reads and writes; message_delta counts replace message_start counts', () => {
    const t = translator(false);
    feed(t, [fixture('anthropic-tools.sse')]);
    expect(t.report()).toEqual({
      usage: { promptTokens: 412 + 1536, cachedPromptTokens: 1536, completionTokens: 118, reasoningTokens: 0, totalTokens: 412 + 1536 + 118 },
      responseModel: 'claude-sonnet-4-5-20250929',
      // 4 text deltas and 7 non-empty argument fragments.
      contentEvents: 11,
      complete: true,
    });
  });

  it('tool calls: OpenAI indexes count tool calls, not content blocks; ids and names come first, then arguments', async () => {
    const { chunks } = await sdkRead(feed(translator(false), [fixture('anthropic-tools.sse')]));
    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas[0]).toEqual({ index: 0, id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(toolDeltas.filter((d) => d.id !== undefined).map((d) => d.index)).toEqual([0, 1]);
    expect(toolDeltas.filter((d) => d.id === undefined).every((d) => Object.keys(d).join() === 'index,function' && d.function!.arguments !== '')).toBe(true);
  });

  const event = (data: object): string => `event: ${(data as { type: string }).type}\ndata: ${JSON.stringify(data)}\n\n`;
  const START = event({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } });
  const TEXT = (text: string) => event({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  const DELTA = event({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 4 } });
  const STOP = event({ type: 'message_stop' });

  it('a tool call that gets no argument fragment gets "{}" when its block stops', async () => {
    const toolStart = event({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} } });
    const out = feed(translator(false), [Buffer.from(START + toolStart + event({ type: 'content_block_stop', index: 0 }) + DELTA + STOP)]);
    expect(assemble((await sdkRead(out)).chunks).calls).toEqual([{ id: 'toolu_1', name: 'now', arguments: '{}' }]);
  });

  it('ping, thinking blocks, signatures and event types it does not know give the client nothing', () => {
    const ignored = [
      event({ type: 'ping' }),
      event({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }),
      event({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
      event({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } }),
      event({ type: 'content_block_stop', index: 0 }),
      event({ type: 'future_event', x: 1 }),
      ': a comment\n\n',
    ].join('');
    const t = translator(false);
    expect(t.push(Buffer.from(START), false).length).toBeGreaterThan(0);
    expect(t.push(Buffer.from(ignored), false).length).toBe(0);
    expect(t.report().contentEvents).toBe(0);
  });

  it('max_tokens → finish_reason length; a stream that ends after its message_delta without message_stop is whole', async () => {
    const t = translator(true);
    const out = feed(t, [Buffer.from(START + TEXT('Hi') + DELTA)]);
    const { chunks, error } = await sdkRead(out);
    expect(error).toBeNull();
    expect(assemble(chunks)).toMatchObject({ text: 'Hi', finishReason: 'length', usage: { prompt_tokens: 9, completion_tokens: 4 } });
    expect(t.report()).toMatchObject({ complete: true, usage: { promptTokens: 9, completionTokens: 4 } });
  });

  it('a stream cut before its message_delta: what was translated, then the truncation error; no usage, not complete', () => {
    const t = translator(true);
    const out = feed(t, [Buffer.from(START + TEXT('Hi') + TEXT(' there')), Buffer.alloc(0)]).toString('utf8');
    expect(out.endsWith(TRUNCATED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(out).toContain('"content":" there"');
    expect(t.report()).toEqual({ usage: null, responseModel: 'claude-x', contentEvents: 2, complete: false });
  });

  it('a stream cut inside an event: the malformed-stream error, nothing after it', () => {
    const t = translator(false);
    const out = feed(t, [Buffer.from(START + TEXT('Hi') + 'event: content_block_delta\ndata: {"type":"content_bl')]).toString('utf8');
    expect(out.endsWith(MALFORMED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(t.report().complete).toBe(false);
  });

  it('an event that is not JSON: the malformed-stream error, and nothing the provider sends later reaches the client', () => {
    const t = translator(false);
    const first = t.push(Buffer.from(`${START}data: <html>502</html>\n\n${TEXT('lost')}`), false).toString('utf8');
    expect(first.endsWith(MALFORMED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(first).not.toContain('lost');
    expect(t.push(Buffer.from(TEXT('later') + DELTA + STOP), true).length).toBe(0);
    expect(t.report()).toMatchObject({ complete: false, usage: null });
  });

  it('nothing after message_stop or an error event reaches the client', () => {
    for (const end of [STOP, event({ type: 'error', error: { type: 'api_error', message: 'Internal server error' } })]) {
      const t = translator(false);
      const out = t.push(Buffer.from(START + DELTA + end + TEXT('late')), false).toString('utf8');
      expect(out).not.toContain('late');
      expect(t.push(Buffer.from(TEXT('later')), true).length).toBe(0);
    }
  });

  it('accepts CRLF line endings, split anywhere', () => {
    const lf = fixture('anthropic-tools.sse');
    const crlf = Buffer.from(lf.toString('utf8').replaceAll('\n', '\r\n'));
    const expected = feed(translator(true), [lf]);
    for (const parts of slicings(crlf)) expect(feed(translator(true), parts).equals(expected)).toBe(true);
  });

  it('complete only once the stream ended', () => {
    const t = translator(false);
    t.push(fixture('anthropic-documented.sse'), false);
    expect(t.report().complete).toBe(false);
    expect(t.push(Buffer.alloc(0), true).length).toBe(0);
    expect(t.report().complete).toBe(true);
  });
});

describe('observeResponse', () => {
  it('picks the stream or JSON translator by content type; include_usage is the opposite of hideUsageEvent', () => {
    const documented = fixture('anthropic-documented.sse');
    expect(feed(observeResponse('text/event-stream; charset=utf-8', false, CREATED)!, [documented]).toString()).toContain('"usage":{');
    expect(feed(observeResponse('text/event-stream', true, CREATED)!, [documented]).toString()).not.toContain('"usage"');
    expect(observeResponse('application/json', false, CREATED)).not.toBeNull();
    expect(observeResponse('text/html', false, CREATED)).toBeNull();
  });
});

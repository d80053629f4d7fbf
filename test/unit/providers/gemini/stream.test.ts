/**
 * Gemini streams translated into OpenAI chunks: the same client bytes and the same report however
 * Envoy slices the stream (whole, byte by byte, split at every offset — inside events, CRLFs and
 * UTF-8 characters), and output the official `openai` SDK's stream parser reads as the answer the
 * Gemini stream carried: its text (thoughts left out), each function call with JSON arguments, its
 * finish reason, the last (cumulative) usage, or its error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { observeResponse } from '../../../../src/providers/gemini/observe.js';
import { ToOpenAiStream } from '../../../../src/providers/gemini/stream.js';
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT } from '../../../../src/providers/openai/response.js';
import { assemble, describeTranscripts, sdkRead, textStreamOf } from '../../../support/openai-chunks.js';
import { sseEvents } from '../../../support/sse-events.js';
import { feed } from '../../../support/streams.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/streams');
const CREATED = 1_760_000_000;
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const translator = (includeUsage: boolean) => new ToOpenAiStream({ includeUsage, createdSec: CREATED });

/** What the Gemini transcript carries, read straight from its events (not through the translator). */
function expectedOf(transcript: Buffer) {
  let id = '';
  let model = '';
  let text = '';
  const calls: Array<{ name: string; args: unknown }> = [];
  let finishReason: string | null = null;
  let usage: Record<string, number> | null = null;
  let error: string | null = null;
  for (const e of sseEvents(transcript.toString('utf8'))) {
    const data = JSON.parse(e.data) as Record<string, any>;
    if (data.error !== undefined) {
      error = data.error.message;
      continue;
    }
    id ||= data.responseId;
    model ||= data.modelVersion;
    usage = data.usageMetadata ?? usage;
    for (const part of data.candidates[0].content.parts) {
      if (typeof part.text === 'string' && part.thought !== true) text += part.text;
      if (part.functionCall !== undefined) calls.push({ name: part.functionCall.name, args: part.functionCall.args });
    }
    finishReason = data.candidates[0].finishReason ?? finishReason;
  }
  return { id, model, text, calls, finishReason, usage, error: error === null ? null : { message: error, code: 'overloaded' } };
}

const TRANSCRIPTS = ['gemini-documented.sse', 'gemini-tools.sse', 'gemini-mock.sse', 'gemini-mock-tool.sse', 'gemini-error.sse'];

describeTranscripts(TRANSCRIPTS, fixture, expectedOf, translator, CREATED, ({ answer, report }, expected) => {
  expect(answer.calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) }))).toEqual(expected.calls);
  if (expected.error !== null) return;
  expect(answer.finishReason).toBe(expected.calls.length > 0 ? 'tool_calls' : 'stop');
  // The last usageMetadata, not a sum: Gemini's counts are cumulative.
  const u = expected.usage!;
  const completion = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  expect(report.usage).toEqual({
    promptTokens: u.promptTokenCount,
    cachedPromptTokens: u.cachedContentTokenCount ?? 0,
    completionTokens: completion,
    reasoningTokens: u.thoughtsTokenCount ?? 0,
    totalTokens: u.promptTokenCount! + completion,
  });
});

const event = (data: object): string => `data: ${JSON.stringify(data)}\r\n\r\n`;
const chunk = (candidates: object[], usage?: object) => event({ candidates, ...(usage === undefined ? {} : { usageMetadata: usage }), modelVersion: 'gemini-x', responseId: 'r1' });
const text = (t: string, index = 0, finishReason?: string) => ({ content: { parts: [{ text: t }], role: 'model' }, index, ...(finishReason === undefined ? {} : { finishReason }) });

describe('translation', () => {
  it('the documented stream, exactly', () => {
    const out = feed(translator(true), [fixture('gemini-documented.sse')]).toString('utf8');
    const identity = { id: 'mI2PaK2xN5m4nvgPuaKE6Qk', model: 'gemini-2.5-flash', created: CREATED };
    const usage = { prompt_tokens: 8, completion_tokens: 14, total_tokens: 22, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
    expect(out).toBe(textStreamOf(identity, ['The', ' quick brown fox jumps over the lazy dog. 日本語', ' ✓'], 'stop', usage));
  });

  it('function calls: whole in one chunk each, ids made from the response id, OpenAI indexes counting calls; thoughts give nothing', async () => {
    const t = translator(false);
    const { chunks } = await sdkRead(feed(t, [fixture('gemini-tools.sse')]));
    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(toolDeltas).toEqual([
      { index: 0, id: 'call_Zq3PaNy0KMeQ1dkP7uOQiA0_0_0', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' } },
      { index: 1, id: 'call_Zq3PaNy0KMeQ1dkP7uOQiA0_0_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"東京"}' } },
    ]);
    expect(chunks.some((c) => c.choices[0]?.delta.content?.includes('Checking'))).toBe(false);
    // 1 text delta and 2 calls.
    expect(t.report().contentEvents).toBe(3);
  });

  it('n > 1: each candidate is a choice with its own role, text and finish; complete once every one finished', async () => {
    const t = translator(true);
    const out = feed(t, [Buffer.from(chunk([text('A0'), text('B0', 1)], { promptTokenCount: 3, candidatesTokenCount: 2 }) + chunk([text('A1', 0, 'STOP'), text('B1', 1, 'MAX_TOKENS')], { promptTokenCount: 3, candidatesTokenCount: 4 }))]);
    const { chunks, error } = await sdkRead(out);
    expect(error).toBeNull();
    expect(assemble(chunks, 0)).toMatchObject({ text: 'A0A1', finishReason: 'stop' });
    expect(assemble(chunks, 1)).toMatchObject({ text: 'B0B1', finishReason: 'length' });
    expect(t.report()).toMatchObject({ complete: true, usage: { promptTokens: 3, completionTokens: 4 } });
  });

  it.each([
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['MAX_TOKENS', 'length'],
    ['OTHER', 'stop'],
  ])('finishReason %s → %s', async (reason, finish) => {
    const { chunks } = await sdkRead(feed(translator(false), [Buffer.from(chunk([text('x', 0, reason)]))]));
    expect(assemble(chunks).finishReason).toBe(finish);
  });

  it('a blocked prompt: the role, finish_reason content_filter, and the prompt tokens it reported', async () => {
    const t = translator(true);
    const out = feed(t, [Buffer.from(event({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 }, modelVersion: 'gemini-x', responseId: 'r1' }))]);
    const { chunks, error } = await sdkRead(out);
    expect(error).toBeNull();
    expect(assemble(chunks)).toMatchObject({ text: '', finishReason: 'content_filter', usage: { prompt_tokens: 9, completion_tokens: 0 } });
  });

  it('a stream that ends before a finish reason: what was translated, then the truncation error; no usage, not complete', () => {
    const t = translator(true);
    const out = feed(t, [Buffer.from(chunk([text('Hi')], { promptTokenCount: 3, candidatesTokenCount: 1 })), Buffer.alloc(0)]).toString('utf8');
    expect(out).toContain('"content":"Hi"');
    expect(out.endsWith(TRUNCATED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(t.report()).toEqual({ usage: null, responseModel: 'gemini-x', contentEvents: 1, complete: false });
  });

  it('a stream cut inside an event: the malformed-stream error', () => {
    const t = translator(false);
    const out = feed(t, [Buffer.from(chunk([text('Hi')]) + 'data: {"candidates":[{"cont')]).toString('utf8');
    expect(out.endsWith(MALFORMED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(t.report().complete).toBe(false);
  });

  it('an event that is not JSON: the malformed-stream error, and nothing the provider sends later reaches the client', () => {
    const t = translator(false);
    const first = t.push(Buffer.from(`${chunk([text('Hi')])}data: <html>502</html>\r\n\r\n${chunk([text('lost')])}`), false).toString('utf8');
    expect(first.endsWith(MALFORMED_STREAM_EVENT.toString('utf8'))).toBe(true);
    expect(first).not.toContain('lost');
    expect(t.push(Buffer.from(chunk([text('later', 0, 'STOP')])), true).length).toBe(0);
    expect(t.report()).toMatchObject({ complete: false, usage: null });
  });

  it('complete only once the stream ended; events after the finish add usage, never text', () => {
    const t = translator(true);
    t.push(Buffer.from(chunk([text('Hi', 0, 'STOP')], { promptTokenCount: 3, candidatesTokenCount: 1 })), false);
    expect(t.report().complete).toBe(false);
    const rest = t.push(Buffer.from(chunk([text('late')], { promptTokenCount: 3, candidatesTokenCount: 2 })), true).toString('utf8');
    expect(rest).not.toContain('late');
    expect(t.report()).toMatchObject({ complete: true, usage: { completionTokens: 2 } });
  });

  it('LF line endings read the same as CRLF', () => {
    const crlf = fixture('gemini-tools.sse');
    const lf = Buffer.from(crlf.toString('utf8').replaceAll('\r\n', '\n'));
    expect(feed(translator(true), [lf]).equals(feed(translator(true), [crlf]))).toBe(true);
  });
});

describe('observeResponse', () => {
  it('picks the stream or JSON translator by content type; include_usage is the opposite of hideUsageEvent', () => {
    const documented = fixture('gemini-documented.sse');
    expect(feed(observeResponse('text/event-stream', false, CREATED)!, [documented]).toString()).toContain('"usage":{');
    expect(feed(observeResponse('text/event-stream', true, CREATED)!, [documented]).toString()).not.toContain('"usage"');
    expect(observeResponse('application/json; charset=UTF-8', false, CREATED)).not.toBeNull();
    expect(observeResponse('text/html', false, CREATED)).toBeNull();
  });
});

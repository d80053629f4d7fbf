/** Reading a translated stream as an OpenAI client does, and slicing a transcript every way Envoy might. */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { Stream } from 'openai/streaming';
import { expect } from 'vitest';
import type { ResponseObserver } from '../../src/providers/openai/response.js';
import { feed } from './streams.js';

/** Every way of slicing `bytes` the tests try: whole, byte by byte, in two at every offset, with empty chunks. */
export function* slicings(bytes: Buffer): Generator<Buffer[]> {
  yield [bytes];
  yield [...bytes].map((b) => Buffer.from([b]));
  for (let at = 1; at < bytes.length; at++) yield [bytes.subarray(0, at), bytes.subarray(at)];
  yield [Buffer.alloc(0), bytes.subarray(0, 99), Buffer.alloc(0), bytes.subarray(99), Buffer.alloc(0)];
}

/** Asserts that a fresh observer gives the same bytes and report for every slicing of `transcript`. */
export function expectSameHoweverSliced(observer: () => ResponseObserver, transcript: Buffer): void {
  const reference = observer();
  const whole = feed(reference, [transcript]);
  const report = reference.report();
  for (const parts of slicings(transcript)) {
    const t = observer();
    const out = feed(t, parts);
    if (!out.equals(whole)) expect({ parts: parts.map((p) => p.length), out: out.toString('utf8') }).toEqual({ parts: parts.map((p) => p.length), out: whole.toString('utf8') });
    expect(t.report()).toEqual(report);
  }
}

/** The chunks the official SDK's stream parser yields for `bytes`, and the error it raised, if any. */
export async function sdkRead(bytes: Buffer): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const stream = Stream.fromSSEResponse<ChatCompletionChunk>(new Response(bytes), new AbortController());
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: null };
}

/** The answer of choice `index` the chunks make, as an OpenAI client assembles it. */
export function assemble(chunks: readonly ChatCompletionChunk[], index = 0) {
  let text = '';
  let finishReason: string | null = null;
  const calls: Array<{ id: string; name: string; arguments: string }> = [];
  for (const c of chunks) {
    for (const choice of c.choices) {
      if (choice.index !== index) continue;
      text += choice.delta.content ?? '';
      if (choice.finish_reason !== null) finishReason = choice.finish_reason;
      for (const t of choice.delta.tool_calls ?? []) {
        if (t.id !== undefined) calls[t.index] = { id: t.id, name: t.function!.name!, arguments: '' };
        calls[t.index]!.arguments += t.function?.arguments ?? '';
      }
    }
  }
  return { text, finishReason, calls, usage: chunks.find((c) => c.usage != null)?.usage ?? null };
}

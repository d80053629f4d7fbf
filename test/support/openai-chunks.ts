/** Reading a translated stream as an OpenAI client does, and slicing a transcript every way Envoy might. */
import { APIError } from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { Stream } from 'openai/streaming';
import { describe, expect, it } from 'vitest';
import type { ResponseObserver } from '../../src/providers/openai/response.js';
import type { Usage } from '../../src/providers/usage.js';
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

/** The usage chunk a client that asked for it should get for a report's `usage`. */
export const usageChunkOf = (u: Usage) => ({
  prompt_tokens: u.promptTokens,
  completion_tokens: u.completionTokens,
  total_tokens: u.totalTokens,
  prompt_tokens_details: { cached_tokens: u.cachedPromptTokens },
  completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
});

/** What a provider's transcript carries, read from its own events (not through the translator). */
export interface Carried {
  readonly id: string;
  readonly model: string;
  readonly text: string;
  /** The provider's error message and the OpenAI code it means, when the stream fails. */
  readonly error: { readonly message: string; readonly code: string } | null;
}

/**
 * Feeds `transcript` whole to `observer` (a fresh translator), reads its bytes with the official
 * SDK's stream parser and checks what every translated stream of one choice owes its client: each
 * chunk names the answer's id and model, the first is the role chunk, the text is the transcript's, tool call ids
 * are unique; a failed stream raises the provider's error, with no finish reason and nothing billed
 * as whole; a whole one ends with `[DONE]`, is reported complete with its model and usage, and
 * carries that usage in a chunk when `includeUsage`. Returns the assembled answer and the report
 * for what is the provider's own.
 */
export async function expectSdkReadsCarried(observer: ResponseObserver, transcript: Buffer, carried: Carried, createdSec: number, includeUsage: boolean) {
  const out = feed(observer, [transcript]);
  const { chunks, error } = await sdkRead(out);
  for (const c of chunks) {
    expect(c).toMatchObject({ id: carried.id, object: 'chat.completion.chunk', created: createdSec, model: carried.model });
    for (const choice of c.choices) expect(choice).toMatchObject({ index: 0, delta: expect.any(Object), logprobs: null });
  }
  expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
  const answer = assemble(chunks);
  expect(answer.text).toBe(carried.text);
  expect(new Set(answer.calls.map((c) => c.id)).size).toBe(answer.calls.length);
  const report = observer.report();
  if (carried.error !== null) {
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ message: expect.stringContaining(carried.error.message), type: 'service_unavailable_error', code: carried.error.code });
    expect(answer.finishReason).toBeNull();
    expect(report).toMatchObject({ usage: null, complete: false });
    return { answer, report };
  }
  expect(error).toBeNull();
  expect(out.toString('utf8').endsWith('data: [DONE]\n\n')).toBe(true);
  expect(report).toMatchObject({ complete: true, responseModel: carried.model });
  expect(report.usage).not.toBeNull();
  expect(answer.usage).toEqual(includeUsage ? usageChunkOf(report.usage!) : null);
  return { answer, report };
}

/** A stream's identity, as every chunk of it carries it. */
interface StreamIdentity {
  readonly id: string;
  readonly model: string;
  readonly created: number;
}

/**
 * The exact bytes a translated text answer streams as: the role, one delta per text, the finish, the
 * usage chunk and `[DONE]` — what a provider's documented stream must become.
 */
export function textStreamOf(identity: StreamIdentity, texts: readonly string[], finishReason: string, usage: object): string {
  const head = `data: {"id":"${identity.id}","object":"chat.completion.chunk","created":${identity.created},"model":"${identity.model}","choices":[`;
  const delta = (d: object, finish: string | null) => `${head}{"index":0,"delta":${JSON.stringify(d)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]}\n\n`;
  return [
    delta({ role: 'assistant', content: '' }, null),
    ...texts.map((content) => delta({ content }, null)),
    delta({}, finishReason),
    `${head}],"usage":${JSON.stringify(usage)}}\n\n`,
    'data: [DONE]\n\n',
  ].join('');
}

/** A translated JSON answer of one choice: text and one tool call. */
export function toolCallCompletionOf(
  identity: StreamIdentity,
  content: string,
  call: { readonly id: string; readonly name: string; readonly arguments: string },
  usage: ChatCompletion['usage'],
): ChatCompletion {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ],
    usage,
  };
}

/**
 * For each transcript: the translation gives the same bytes and report however it is sliced, and the
 * official SDK reads from it the answer the transcript carries (`check` adds the provider's own
 * expectations), with and without the usage chunk.
 */
export function describeTranscripts<E extends Carried>(
  names: readonly string[],
  fixture: (name: string) => Buffer,
  expectedOf: (transcript: Buffer) => E,
  translator: (includeUsage: boolean) => ResponseObserver,
  createdSec: number,
  check: (read: Awaited<ReturnType<typeof expectSdkReadsCarried>>, expected: E) => void,
): void {
  describe.each(names)('%s', (name) => {
    const transcript = fixture(name);
    const expected = expectedOf(transcript);

    it.each([true, false])('include_usage %s: the same bytes and report however the stream is sliced', (includeUsage) => {
      expectSameHoweverSliced(() => translator(includeUsage), transcript);
    });

    it.each([true, false])("include_usage %s: the SDK's parser reads the answer the transcript carries", async (includeUsage) => {
      check(await expectSdkReadsCarried(translator(includeUsage), transcript, expected, createdSec, includeUsage), expected);
    });
  });
}

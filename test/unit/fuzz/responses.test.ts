/**
 * Property tests of the response readers a provider feeds (SSE and JSON usage extraction): any bytes,
 * cut anywhere (inside events, CRLFs and UTF-8 characters), never throw and give the client the same
 * bytes and the router the same usage as the whole body; a stream cut before its end always ends in an
 * error event and is never complete. Seeded and bounded, so every run is the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MALFORMED_STREAM_EVENT, observeResponse, TRUNCATED_STREAM_EVENT } from '../../../src/providers/openai/response.js';
import { feed, splitAt } from '../../support/streams.js';

const SEED = 4242;
const SSE = 'text/event-stream';

/** Byte offsets to cut a body at (out-of-range ones give empty parts, as Envoy may send). */
const offsets = fc.array(fc.nat({ max: 3000 }), { maxLength: 12 });

/** What a provider's stream is made of, valid or not, joined in any order. */
const fragment = fc.oneof(
  fc.constantFrom('data: ', 'data:', '{', '}', '"usage"', ':', 'null', ',"usage":null}', '\n', '\r', '\r\n', '\n\n', 'data: [DONE]', '"content":"', '"finish_reason":"stop"', ': keep-alive\n\n'),
  fc.constantFrom('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"model":"m"}', '<html>502</html>', 'é', '日本語', '🙂', '\u0000'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
);
const anyStream = fc.array(fragment, { maxLength: 40 }).map((f) => Buffer.from(f.join(''), 'utf8'));

describe('SSE reader: arbitrary bytes', () => {
  it('never throws, and any cut gives the client the same bytes and the router the same report as the whole body', () => {
    fc.assert(
      fc.property(anyStream, offsets, fc.boolean(), (bytes, cuts, hide) => {
        const whole = observeResponse(SSE, hide)!;
        const wholeOut = feed(whole, [bytes]);
        const split = observeResponse(SSE, hide)!;
        expect(feed(split, splitAt(bytes, cuts)).equals(wholeOut)).toBe(true);
        expect(split.report()).toEqual(whole.report());
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('raw random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), offsets, fc.boolean(), (bytes, cuts, hide) => {
        const observer = observeResponse(SSE, hide)!;
        feed(observer, splitAt(Buffer.from(bytes), cuts));
        observer.report();
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

interface Transcript {
  /** What the provider sends (with `include_usage`: every chunk has `"usage": null`, the last the usage). */
  readonly sent: Buffer;
  /** What a client that did not ask for usage must get. */
  readonly plain: Buffer;
  /** Where the data line of the answer's last event (its `finish_reason`) ends in `sent`. */
  readonly finishEnd: number;
  readonly usage: { promptTokens: number; cachedPromptTokens: number; completionTokens: number; reasoningTokens: number; totalTokens: number };
  readonly contentEvents: number;
}

/** Text an answer may hold: any characters, and ones that look like the stream's own syntax. */
const answerText = fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.constantFrom(',"usage":null}', 'data: [DONE]', '"finish_reason":"stop"', '\n\n', '\r\n', '"usage":{"prompt_tokens":1}'));

const transcript: fc.Arbitrary<Transcript> = fc
  .record({
    texts: fc.array(answerText, { maxLength: 8 }),
    prompt: fc.nat({ max: 100_000 }),
    cached: fc.nat({ max: 100_000 }),
    reasoning: fc.nat({ max: 1000 }),
    crlf: fc.boolean(),
    keepAlive: fc.boolean(),
    done: fc.boolean(),
    /** OpenAI's padding after `usage` in each chunk (any text). */
    padding: fc.option(fc.string({ unit: 'grapheme', maxLength: 16 }), { nil: undefined }),
  })
  .map(({ texts, prompt, cached, reasoning, crlf, keepAlive, done, padding }) => {
    const eol = crlf ? '\r\n' : '\n';
    const event = (choices: unknown[], usage?: unknown) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm-1', choices, ...(usage === undefined ? {} : { usage }), ...(padding === undefined ? {} : { obfuscation: padding }) })}${eol}${eol}`;
    const choices = [[{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], ...texts.map((t) => [{ index: 0, delta: { content: t }, finish_reason: null }])];
    const finish = [{ index: 0, delta: {}, finish_reason: 'stop' }];
    const completion = texts.length;
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached }, completion_tokens_details: { reasoning_tokens: reasoning } };
    const comment = keepAlive ? `: keep-alive${eol}${eol}` : '';
    const end = done ? `data: [DONE]${eol}${eol}` : '';
    const answer = [...choices.map((c) => event(c, null)), comment, event(finish, null)].join('');
    return {
      sent: Buffer.from(`${answer}${event([], usage)}${end}`),
      plain: Buffer.from(`${[...choices.map((c) => event(c)), comment, event(finish)].join('')}${end}`),
      finishEnd: Buffer.byteLength(answer) - 2 * eol.length,
      usage: { promptTokens: prompt, cachedPromptTokens: Math.min(cached, prompt), completionTokens: completion, reasoningTokens: Math.min(reasoning, completion), totalTokens: prompt + completion },
      contentEvents: texts.length,
    };
  });

describe('SSE reader: provider transcripts', () => {
  it('cut anywhere: the usage of the whole, the bytes OpenAI sends (without the usage member and event when the router asked), complete', () => {
    fc.assert(
      fc.property(transcript, offsets, fc.boolean(), (t, cuts, hide) => {
        const observer = observeResponse(SSE, hide)!;
        expect(feed(observer, splitAt(t.sent, cuts)).toString('utf8')).toBe((hide ? t.plain : t.sent).toString('utf8'));
        expect(observer.report()).toEqual({ usage: t.usage, responseModel: 'm-1', contentEvents: t.contentEvents, complete: true });
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('ended anywhere before its answer is whole: the client gets an error event last, and the report is not complete', () => {
    fc.assert(
      fc.property(
        transcript.chain((t) => fc.tuple(fc.constant(t), fc.nat({ max: t.finishEnd - 1 }))),
        offsets,
        fc.boolean(),
        ([t, end], cuts, hide) => {
          const observer = observeResponse(SSE, hide)!;
          const out = feed(observer, splitAt(t.sent.subarray(0, end), cuts)).toString('utf8');
          expect([TRUNCATED_STREAM_EVENT, MALFORMED_STREAM_EVENT].some((e) => out.endsWith(e.toString('utf8')))).toBe(true);
          const report = observer.report();
          expect(report.complete).toBe(false);
          expect(report.usage).toBeNull();
          expect(report.contentEvents).toBeLessThanOrEqual(t.contentEvents);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('JSON reader', () => {
  const body = (usage: unknown, padding: number) =>
    Buffer.from(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'm-2', choices: [{ index: 0, message: { role: 'assistant', content: 'é'.repeat(padding) } }], usage }));

  it('cut anywhere, small or over the whole-parse limit: the usage of the whole', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), fc.nat({ max: 10_000 }), fc.constantFrom(0, 10, 40_000), offsets, (prompt, completion, padding, cuts) => {
        const bytes = body({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }, padding);
        const observer = observeResponse('application/json', false)!;
        expect(feed(observer, splitAt(bytes, cuts)).equals(bytes)).toBe(true);
        expect(observer.report()).toMatchObject({ usage: { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion }, responseModel: 'm-2', complete: true });
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('arbitrary bytes and JSON never throw, and any cut gives the report of the whole', () => {
    const anyBody = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.record({ usage: fc.jsonValue({ maxDepth: 2 }), model: fc.jsonValue({ maxDepth: 1 }) }).map((v) => Buffer.from(JSON.stringify(v))),
    );
    fc.assert(
      fc.property(anyBody, offsets, (bytes, cuts) => {
        const whole = observeResponse('application/json', false)!;
        feed(whole, [bytes]);
        const split = observeResponse('application/json', false)!;
        feed(split, splitAt(bytes, cuts));
        expect(split.report()).toEqual(whole.report());
        const usage = whole.report().usage;
        if (usage !== null) for (const n of Object.values(usage)) expect(Number.isInteger(n) && n >= 0).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

/**
 * Property tests of the Anthropic → OpenAI stream translator: any bytes, cut anywhere, never throw,
 * give the client the same bytes and the router the same report as the whole stream, and give the
 * client only well-formed OpenAI events that end in `[DONE]` or an error event. Seeded and bounded,
 * so every run is the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ToOpenAiStream } from '../../../src/providers/anthropic/stream.js';
import { sseEvents } from '../../support/sse-events.js';
import { feed, splitAt } from '../../support/streams.js';

const SEED = 4242;
const FIXTURES = join(import.meta.dirname, '../../fixtures/streams');
const TRANSCRIPT_EVENTS = ['anthropic-tools.sse', 'anthropic-error.sse', 'anthropic-mock-tool.sse'].flatMap((name) =>
  readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n\n')
    .filter((e) => e.startsWith('event:'))
    .map((e) => `${e}\n\n`),
);

const offsets = fc.array(fc.nat({ max: 5000 }), { maxLength: 12 });

/** Real events in any order and number, mixed with fragments that break them. */
const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TRANSCRIPT_EVENTS) },
  fc.constantFrom('data: ', 'event: error\n', '{', '}', '\n', '\r\n', '\n\n', 'data: {"type":"message_stop"}', 'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\""}}\n\n', ': ping\n\n'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
);
const anyStream = fc.array(fragment, { maxLength: 30 }).map((f) => Buffer.from(f.join(''), 'utf8'));

describe('Anthropic stream translator: arbitrary bytes', () => {
  it('never throws; any cut gives the same bytes and report; the client gets OpenAI events only, ending in [DONE] or an error', () => {
    fc.assert(
      fc.property(anyStream, offsets, fc.boolean(), (bytes, cuts, includeUsage) => {
        const whole = new ToOpenAiStream({ includeUsage, createdSec: 1 });
        const out = feed(whole, [bytes]);
        const split = new ToOpenAiStream({ includeUsage, createdSec: 1 });
        expect(feed(split, splitAt(bytes, cuts)).equals(out)).toBe(true);
        expect(split.report()).toEqual(whole.report());
        const events = sseEvents(out.toString('utf8'));
        expect(events.length).toBeGreaterThan(0);
        for (const e of events.slice(0, -1)) expect((JSON.parse(e.data) as { object?: string }).object).toBe('chat.completion.chunk');
        const last = events.at(-1)!.data;
        if (last !== '[DONE]') expect(JSON.parse(last)).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
        expect(whole.report().complete).toBe(last === '[DONE]');
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

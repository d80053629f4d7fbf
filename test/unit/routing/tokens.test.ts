/** Prompt counting in bounded segments: exact where it can be, close where a run is cut, bounded where it stops. */
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, PromptTokenCounter, promptTokensBound, SEGMENT_CHARS, type PromptText } from '../../../src/routing/tokens.js';

beforeAll(loadTokenizer);

const AS_TEXT = { disallowedSpecial: new Set<string>() };
const textPrompt = (...parts: string[]): PromptText => ({ parts, bytes: parts.reduce((n, p) => n + Buffer.byteLength(p, 'utf8'), 0), messages: 0, images: 0, tokenIds: 0 });

/** Counts the whole prompt; also how many segments it took. */
function countAll(p: PromptText): { tokens: number; steps: number } {
  const counter = new PromptTokenCounter(p);
  let steps = 1;
  while (counter.step()) steps++;
  return { tokens: counter.tokens(), steps };
}

describe('PromptTokenCounter', () => {
  it('counts prose and code exactly: segments end before a space', async () => {
    for (const file of ['README.md', 'docs/requests.md', 'src/pipeline/exchange.ts']) {
      const text = await readFile(file, 'utf8');
      expect(countAll(textPrompt(text)).tokens).toBe(countTokens(text, AS_TEXT));
    }
  });

  it('cuts a run without spaces into segments of at most SEGMENT_CHARS, so its cost grows linearly', () => {
    const run = 'x'.repeat(64 * 1024);
    const { tokens, steps } = countAll(textPrompt(run));
    expect(steps).toBe(Math.ceil(run.length / SEGMENT_CHARS));
    // Each cut adds a token of margin: well under the bound of one a byte.
    expect(tokens).toBeLessThan(run.length / 4);
  });

  it('never cuts a surrogate pair', () => {
    const emoji = '😀'.repeat(SEGMENT_CHARS); // two UTF-16 units each: the limit falls inside a pair
    const p = textPrompt('a' + emoji);
    expect(countAll(p).tokens).toBeGreaterThanOrEqual(countTokens('a' + emoji, AS_TEXT));
  });

  it('counts special-token markers as the text they are', () => {
    expect(countAll(textPrompt('say <|endoftext|> twice <|endoftext|>')).tokens).toBe(countTokens('say <|endoftext|> twice <|endoftext|>', AS_TEXT));
  });

  it('stopped at any point, counts the rest one token a byte: never below the count, never above the bound', () => {
    const p = { ...textPrompt('word '.repeat(2000), 'zz'.repeat(600)), messages: 2, images: 1 };
    const full = countAll(p).tokens;
    const counter = new PromptTokenCounter(p);
    expect(counter.tokens()).toBe(promptTokensBound(p));
    let previous = counter.tokens();
    while (counter.step()) {
      expect(counter.tokens()).toBeLessThanOrEqual(previous);
      expect(counter.tokens()).toBeGreaterThanOrEqual(full);
      previous = counter.tokens();
    }
    expect(counter.tokens()).toBe(full);
  });

  it('property: runs cut apart count within a token under and three over per cut of the whole run', () => {
    const runs = fc.string({ unit: fc.constantFrom(...'abcxyz0123!?.é漢😀'), minLength: 1, maxLength: 900, size: 'max' });
    fc.assert(
      fc.property(runs, (run) => {
        const exact = countTokens(run, AS_TEXT);
        const { tokens, steps } = countAll(textPrompt(run));
        const cuts = steps - 1;
        expect(tokens).toBeGreaterThanOrEqual(exact - cuts);
        expect(tokens).toBeLessThanOrEqual(exact + 3 * cuts);
      }),
      { numRuns: 150 },
    );
  });
});

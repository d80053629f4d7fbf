/**
 * Prompt counts share the event loop: in slices, one count at a time, in turn, each stopped at its
 * budget. The clock is scripted: every reading advances it by 1 ms.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenCounting } from '../../../src/pipeline/token-counting.js';
import { loadTokenizer, PromptTokenCounter, promptTokensBound, type PromptText } from '../../../src/routing/tokens.js';

beforeAll(loadTokenizer);

const prompt = (text: string): PromptText => ({ parts: [text], bytes: Buffer.byteLength(text, 'utf8'), messages: 1, images: 0, tokenIds: 0 });
/** A clock that moves 1 ms each time it is read. */
const ticking = () => {
  let ms = 0;
  return () => ++ms;
};
const fullCount = (p: PromptText) => {
  const c = new PromptTokenCounter(p);
  while (c.step());
  return c.tokens();
};
/** Turns of the event loop until `done` settles. */
async function turnsUntil(done: Promise<unknown>): Promise<number> {
  let settled = false;
  void done.then(() => (settled = true));
  let turns = 0;
  while (!settled) {
    await new Promise((resolve) => setImmediate(resolve));
    turns++;
  }
  return turns;
}

const LONG = prompt('lorem ipsum dolor '.repeat(2000)); // 36 KB: about 140 segments
const SHORT = prompt('hello there');

describe('TokenCounting', () => {
  it('with time enough, counts the whole prompt', async () => {
    expect(await new TokenCounting(ticking()).count(LONG, 1e9)).toBe(fullCount(LONG));
  });

  it('stops at its budget: the rest counts one token a byte', async () => {
    const counting = new TokenCounting(ticking());
    expect(await counting.count(LONG, 0)).toBe(promptTokensBound(LONG));
    const partial = await counting.count(LONG, 50);
    expect(partial).toBeLessThan(promptTokensBound(LONG));
    expect(partial).toBeGreaterThan(fullCount(LONG));
  });

  it('counts in slices: other work runs between them', async () => {
    const counting = new TokenCounting(ticking());
    const turns = await turnsUntil(counting.count(LONG, 1e9));
    // A slice reads the clock about twice a segment within its 4 ms: about two segments each.
    expect(turns).toBeGreaterThan(40);
  });

  it('counts take turns: a short prompt asked for after a long one is not kept waiting for it', async () => {
    const counting = new TokenCounting(ticking());
    const order: string[] = [];
    await Promise.all([counting.count(LONG, 1e9).then(() => order.push('long')), counting.count(SHORT, 1e9).then(() => order.push('short'))]);
    expect(order).toEqual(['short', 'long']);
  });
});

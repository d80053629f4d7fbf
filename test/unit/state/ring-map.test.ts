import { describe, expect, it } from 'vitest';
import { RingMap } from '../../../src/state/ring-map.js';

describe('RingMap', () => {
  it('remembers the values of its last max sets and forgets the oldest first', () => {
    const m = new RingMap<number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) m.set(k, i);
    expect([m.has('a'), m.get('b'), m.get('c'), m.get('d'), m.size]).toEqual([false, 1, 2, 3, 3]);
  });

  it('a key set again keeps its newest value and leaves with its newest set, not its first', () => {
    const m = new RingMap<string>(3);
    m.set('a', 'first');
    m.set('b', 'b');
    m.set('a', 'second');
    // The ring reaches a's first slot: a stays, set since.
    m.set('c', 'c');
    expect(m.get('a')).toBe('second');
    expect(m.has('b')).toBe(true);
    m.set('d', 'd');
    expect([m.has('b'), m.get('a')]).toEqual([false, 'second']);
    m.set('e', 'e');
    expect(m.has('a')).toBe(false);
    expect(m.size).toBe(3);
  });

  it('a deleted key is gone at once, and the slot it held does not take the key if it comes back', () => {
    const m = new RingMap<number>(2);
    m.set('a', 1);
    expect(m.delete('a')).toBe(true);
    expect([m.has('a'), m.get('a'), m.size, m.delete('a')]).toEqual([false, undefined, 0, false]);
    m.set('b', 2);
    m.set('a', 3);
    // `a` came back into the slot it first held; the next set takes b's slot, not a's.
    m.set('c', 4);
    expect([m.has('b'), m.get('a'), m.get('c')]).toEqual([false, 3, 4]);
  });

  it('holds at most max keys through many sets of fresh keys (a flood of random keys)', () => {
    const m = new RingMap<number>(100);
    for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(100);
    expect([m.has('k9899'), m.get('k9900'), m.get('k9999')]).toEqual([false, 9900, 9999]);
  });
});

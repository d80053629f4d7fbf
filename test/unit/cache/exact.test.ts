import { describe, expect, it } from 'vitest';
import { ExactCache, type CacheClock } from '../../../src/cache/exact.js';
import { encodeEntry, type CacheEntry } from '../../../src/cache/entry.js';
import { MemoryStore } from '../../../src/state/memory.js';

const ENTRY: CacheEntry = { contentType: 'application/json', storedAtMs: 0, deployment: 'd', provider: 'openai', providerModel: 'm', responseModel: 'm', costNanos: 7, body: Buffer.from('{"ok":true}') };
const LOAD = { latencySamples: 10, latencyMaxAgeMs: 60_000 };

/** A clock that moves only when a waiter sleeps: no wall time decides anything. */
function steppedClock(): CacheClock {
  let now = 1_000;
  return { now: () => now, sleep: async (ms) => void (now += ms) };
}

function setup() {
  const store = new MemoryStore(100, LOAD);
  const errors: string[] = [];
  const cache = new ExactCache(store, steppedClock(), (_err, what) => errors.push(what));
  return { store, cache, errors };
}

describe('exact cache lookups', () => {
  it('sends one of many identical misses on, and gives its answer to the rest', async () => {
    const { cache } = setup();
    const lookups = Array.from({ length: 50 }, () => cache.lookup('key:a/x', 1000));
    const first = await lookups[0]!;
    expect(first.kind).toBe('miss');
    if (first.kind === 'miss') first.ticket.finish(ENTRY, 60_000);
    const rest = await Promise.all(lookups.slice(1));
    expect(rest.every((l) => l.kind === 'hit')).toBe(true);
    expect((await cache.lookup('key:a/x', 1000)).kind).toBe('hit');
  });

  it('lets the waiting requests go themselves when the first one gets no answer', async () => {
    const { cache } = setup();
    const first = cache.lookup('key:a/y', 1000);
    const second = cache.lookup('key:a/y', 1000);
    const l = await first;
    if (l.kind === 'miss') l.ticket.finish(null, 0);
    expect((await second).kind).toBe('miss');
  });

  it('waits on a claim held elsewhere (another replica) and finds its entry', async () => {
    const { store, cache } = setup();
    expect(await store.cacheClaim('global/z', 10_000, 1_000)).toBe(true);
    const waiting = cache.lookup('global/z', 1000);
    await store.cacheSet('global/z', encodeEntry(ENTRY), 60_000, 1_000);
    expect((await waiting).kind).toBe('hit');
  });

  it('goes itself once the wait is over', async () => {
    const { store, cache } = setup();
    await store.cacheClaim('global/w', 60_000, 1_000);
    expect((await cache.lookup('global/w', 100)).kind).toBe('miss');
  });

  it('reads a corrupt entry as a miss and deletes it', async () => {
    const { store, cache } = setup();
    await store.cacheSet('global/c', Buffer.from('garbage'), 60_000, 1_000);
    expect((await cache.lookup('global/c', 1000)).kind).toBe('miss');
    expect(await store.cacheGet('global/c', 1_000)).toBeNull();
  });

  it('bypasses a store that fails', async () => {
    const { store, cache, errors } = setup();
    store.cacheGet = () => Promise.reject(new Error('down'));
    expect((await cache.lookup('global/f', 1000)).kind).toBe('bypass');
    expect(errors).toEqual(['cache lookup failed: bypassing the cache']);
  });
});

describe('a request that never finishes', () => {
  it('holds up identical requests no longer than the wait, once', async () => {
    const { cache } = setup();
    const lost = await cache.lookup('key:a/lost', 50);
    expect(lost.kind).toBe('miss');
    // Its ticket is never finished: the next one waits out the wait, then goes itself…
    expect((await cache.lookup('key:a/lost', 50)).kind).toBe('miss');
    // …and after it nobody waits on the lost one.
    const next = await cache.lookup('key:a/lost', 60_000);
    expect(next.kind).toBe('miss');
  });
});

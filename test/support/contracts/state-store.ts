/** One contract for every StateStore: run on the in-memory store and on a real Redis. */
import { describe, expect, it } from 'vitest';
import { position, type WindowName } from '../../../src/admission/windows.js';
import type { Charge, RequestEnd, StateStore, UsageDimension, UsageRecord } from '../../../src/state/store.js';

const DAY1 = Date.UTC(2026, 10, 21, 23, 59, 59);
const DAY2 = Date.UTC(2026, 10, 22, 0, 0, 1);

export function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    recordId: `rec-${overrides.requestId ?? 'r'}`,
    requestId: 'r',
    timestampMs: DAY1,
    keyId: 'key-1',
    team: null,
    tags: [],
    requestedModel: 'gpt-4o-mini',
    deployment: 'mini-a',
    provider: 'openai',
    providerModel: 'gpt-4o-mini-2024-07-18',
    responseModel: 'gpt-4o-mini-2024-07-18',
    stream: false,
    status: 200,
    complete: true,
    usageEstimated: false,
    promptTokens: 10,
    cachedPromptTokens: 0,
    completionTokens: 5,
    reasoningTokens: 0,
    totalTokens: 15,
    costNanos: 4500,
    cache: null,
    savedCostNanos: 0,
    latencyMs: 12,
    ttfbMs: 2,
    ttftMs: 3,
    ...overrides,
  };
}

/** Runs `check` on a fresh store and closes the store, whatever the check does. */
async function withStore(make: () => Promise<StateStore>, check: (store: StateStore) => Promise<void>): Promise<void> {
  const store = await make();
  try {
    await check(store);
  } finally {
    await store.close();
  }
}

export function stateStoreContract(name: string, makeStore: (maxLog: number) => Promise<StateStore>): void {
  describe(`StateStore contract: ${name}`, () => {
    it('aggregates per key, model and deployment per UTC day', () =>
      withStore(() => makeStore(100), async (store) => {
        await store.recordUsage(record({ requestId: 'a' }));
        await store.recordUsage(record({ requestId: 'b', deployment: 'mini-b', promptTokens: 7, totalTokens: 12, costNanos: 1 }));
        await store.recordUsage(record({ requestId: 'c', timestampMs: DAY2 }));
        expect(await store.usageTotals('model', 'gpt-4o-mini', '2026-11-21')).toEqual({ requests: 2, promptTokens: 17, completionTokens: 10, totalTokens: 27, costNanos: 4501, cacheHits: 0, cacheMisses: 0, savedCostNanos: 0 });
        expect(await store.usageTotals('deployment', 'mini-b', '2026-11-21')).toEqual({ requests: 1, promptTokens: 7, completionTokens: 5, totalTokens: 12, costNanos: 1, cacheHits: 0, cacheMisses: 0, savedCostNanos: 0 });
        expect(await store.usageTotals('key', 'key-1', '2026-11-22')).toEqual({ requests: 1, promptTokens: 10, completionTokens: 5, totalTokens: 15, costNanos: 4500, cacheHits: 0, cacheMisses: 0, savedCostNanos: 0 });
        expect(await store.usageTotals('key', 'nobody', '2026-11-22')).toEqual({ requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costNanos: 0, cacheHits: 0, cacheMisses: 0, savedCostNanos: 0 });
      }));

    it('counts cache hits and the cost they saved in the totals', () =>
      withStore(() => makeStore(100), async (store) => {
        await store.recordUsage(record({ requestId: 'a', cache: { kind: 'exact', result: 'miss' } }));
        await store.recordUsage(record({ requestId: 'b', cache: { kind: 'exact', result: 'hit' }, costNanos: 0, savedCostNanos: 4500, promptTokens: 0, completionTokens: 0, totalTokens: 0 }));
        await store.recordUsage(record({ requestId: 'c', cache: { kind: 'exact', result: 'bypass' } }));
        const t = await store.usageTotals('key', 'key-1', '2026-11-21');
        expect(t).toMatchObject({ requests: 3, costNanos: 9000, cacheHits: 1, cacheMisses: 1, savedCostNanos: 4500 });
      }));

    it('keeps cache entries until their TTL, lists and purges them by namespace prefix', () =>
      withStore(() => makeStore(100), async (store) => {
        const now = Date.now();
        await store.cacheSet('key:a/x', Buffer.from('one'), 60_000, now);
        await store.cacheSet('key:a/y', Buffer.from('two'), 60_000, now);
        await store.cacheSet('key:b/x', Buffer.from('three'), 60_000, now);
        expect((await store.cacheGet('key:a/x', now))?.toString()).toBe('one');
        expect(await store.cacheGet('key:a/z', now)).toBeNull();
        expect((await store.cacheKeys('key:a/', 10, now)).sort()).toEqual(['key:a/x', 'key:a/y']);
        expect(await store.cachePurge('key:a/')).toBe(2);
        expect(await store.cacheGet('key:a/x', now)).toBeNull();
        expect((await store.cacheGet('key:b/x', now))?.toString()).toBe('three');
        expect(await store.cacheDelete('key:b/x')).toBe(true);
        expect(await store.cacheDelete('key:b/x')).toBe(false);
      }));

    it('gives a cache claim to one caller at a time, until released', () =>
      withStore(() => makeStore(100), async (store) => {
        const now = Date.now();
        const claims = await Promise.all(Array.from({ length: 20 }, () => store.cacheClaim('global/k', 60_000, now)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        await store.cacheRelease('global/k');
        expect(await store.cacheClaim('global/k', 60_000, now)).toBe(true);
      }));

    it('aggregates per team, per tag (a record in each of its tags) and per provider', () =>
      withStore(() => makeStore(100), async (store) => {
        await store.recordUsage(record({ requestId: 'a', team: 'ml', tags: ['free', 'batch'] }));
        await store.recordUsage(record({ requestId: 'b', team: 'ml', tags: ['batch'], provider: 'azure-openai', costNanos: 500 }));
        await store.recordUsage(record({ requestId: 'c' }));
        const cost = async (dimension: UsageDimension, id: string) => (await store.usageTotals(dimension, id, '2026-11-21')).costNanos;
        expect([await cost('team', 'ml'), await cost('tag', 'free'), await cost('tag', 'batch'), await cost('provider', 'openai'), await cost('provider', 'azure-openai')]).toEqual([5000, 4500, 5000, 9000, 500]);
        expect((await store.usageTotals('tag', 'batch', '2026-11-21')).requests).toBe(2);
      }));

    it('keeps an append-only log, newest last, bounded', () =>
      withStore(() => makeStore(1000), async (store) => {
        for (let i = 0; i < 5; i++) await store.recordUsage(record({ requestId: `r${i}` }));
        expect((await store.usageLog(3)).map((r) => r.requestId)).toEqual(['r2', 'r3', 'r4']);
        const all = await store.usageLog(100);
        expect(all).toHaveLength(5);
        expect(all[0]).toEqual(record({ requestId: 'r0' }));
      }));

    it('stores runtime keys by hash, replaces and removes them', () =>
      withStore(() => makeStore(10), async (store) => {
        const hash = 'a'.repeat(64);
        expect(await store.getKey(hash)).toBeNull();
        await store.putKey({ name: 'k1', hash, tags: ['x'], models: ['m'] });
        expect(await store.getKey(hash)).toEqual({ name: 'k1', hash, tags: ['x'], models: ['m'] });
        await store.putKey({ name: 'k1', hash, disabled: true });
        expect(await store.getKey(hash)).toEqual({ name: 'k1', hash, disabled: true });
        expect(await store.deleteKey(hash)).toBe(true);
        expect(await store.deleteKey(hash)).toBe(false);
        expect(await store.getKey(hash)).toBeNull();
      }));

    it('counts a record once, however often it is written (replays after a Redis outage)', () =>
      withStore(() => makeStore(100), async (store) => {
        await store.recordUsage(record({ requestId: 'once' }));
        await store.recordUsage(record({ requestId: 'once' }));
        await store.recordUsage(record({ requestId: 'other' }));
        expect((await store.usageTotals('model', 'gpt-4o-mini', '2026-11-21')).requests).toBe(2);
        expect((await store.usageLog(10)).map((r) => r.requestId)).toEqual(['once', 'other']);
      }));

    it('loses no increment under concurrent writers', () =>
      withStore(() => makeStore(10_000), async (store) => {
        await Promise.all(Array.from({ length: 200 }, (_, i) => store.recordUsage(record({ requestId: `c${i}`, costNanos: i }))));
        const t = await store.usageTotals('deployment', 'mini-a', '2026-11-21');
        expect(t.requests).toBe(200);
        expect(t.costNanos).toBe((199 * 200) / 2);
      }));
  });
}

const MINUTE = Date.UTC(2026, 10, 22, 12, 0, 0);
const end = (over: Partial<RequestEnd> = {}): RequestEnd => ({
  deployment: 'd1',
  startedMs: MINUTE,
  endedMs: MINUTE + 100,
  estimatedTokens: 50,
  actualTokens: 80,
  sample: { latencyMs: 100, ttftMs: 40 },
  ...over,
});

/** The live load every strategy reads: one contract for memory and Redis (latency_samples 20, max age 60 s). */
export function loadContract(name: string, makeStore: () => Promise<StateStore>): void {
  describe(`StateStore load contract: ${name}`, () => {
    it('counts in flight, requests and tokens; the estimate is replaced by the real count at the end', () =>
      withStore(() => makeStore(), async (store) => {
        await store.requestStarted('d1', MINUTE, 50);
        await store.requestStarted('d1', MINUTE, 50);
        let [d1, d2] = await store.loadOf(['d1', 'd2'], MINUTE + 10);
        expect(d1).toMatchObject({ inFlight: 2, requestsInWindow: 2, tokensInWindow: 100 });
        expect(d2).toMatchObject({ inFlight: 0, requestsInWindow: 0, tokensInWindow: 0, latencyMs: null, ttftMs: null, coolingUntilMs: 0 });
        await store.requestEnded(end());
        await store.requestEnded(end({ actualTokens: 10, sample: null }));
        [d1] = await store.loadOf(['d1'], MINUTE + 200);
        expect(d1).toMatchObject({ inFlight: 0, requestsInWindow: 2, tokensInWindow: 90, latencyMs: 100, ttftMs: 40 });
      }));

    it('slides the minute: the previous minute counts in proportion to its overlap', () =>
      withStore(() => makeStore(), async (store) => {
        for (let i = 0; i < 10; i++) await store.requestStarted('d1', MINUTE + 1000, 30);
        await store.requestStarted('d1', MINUTE + 60_000 + 5000, 30);
        const [half] = await store.loadOf(['d1'], MINUTE + 90_000);
        expect(half!.requestsInWindow).toBeCloseTo(1 + 10 * 0.5, 6);
        expect(half!.tokensInWindow).toBeCloseTo(30 + 300 * 0.5, 6);
        const [later] = await store.loadOf(['d1'], MINUTE + 125_000);
        expect(later!.requestsInWindow).toBeCloseTo(1 * (1 - 5 / 60), 6);
      }));

    it('averages the newest latency samples and forgets old ones', () =>
      withStore(() => makeStore(), async (store) => {
        await store.requestEnded(end({ endedMs: MINUTE, sample: { latencyMs: 1000, ttftMs: null } }));
        for (let i = 0; i < 20; i++) await store.requestEnded(end({ endedMs: MINUTE + 50_000 + i, sample: { latencyMs: 100 + i, ttftMs: i % 2 === 0 ? 10 : null } }));
        const [fresh] = await store.loadOf(['d1'], MINUTE + 60_000);
        expect(fresh!.latencyMs).toBeCloseTo(109.5, 6); // the 1000 ms sample fell out of the newest 20
        expect(fresh!.ttftMs).toBe(10);
        const [stale] = await store.loadOf(['d1'], MINUTE + 50_000 + 60_020);
        expect(stale).toMatchObject({ latencyMs: null, ttftMs: null });
      }));

    it('keeps the provider\'s last report of its limits until its windows reset', () =>
      withStore(() => makeStore(), async (store) => {
        // Real time here: Redis expires the report at its last reset (PXAT).
        const t = Date.now() + 60_000;
        const limits = { requests: { limit: 60, remaining: 10, resetAtMs: t + 1000 }, tokens: { limit: 1000, remaining: 400, resetAtMs: t + 5000 } };
        await store.recordProviderLimits('d1', limits);
        expect((await store.loadOf(['d1'], t))[0]!.provider).toEqual(limits);
        expect((await store.loadOf(['d1'], t + 2000))[0]!.provider).toEqual({ requests: null, tokens: limits.tokens });
        expect((await store.loadOf(['d1'], t + 6000))[0]!.provider).toBeNull();
      }));

    it('keeps the latest cooldown deadline: a shorter one never shortens it', () =>
      withStore(() => makeStore(), async (store) => {
        await store.coolDown('d1', MINUTE + 5000);
        await store.coolDown('d1', MINUTE + 2000);
        expect((await store.loadOf(['d1'], MINUTE))[0]!.coolingUntilMs).toBe(MINUTE + 5000);
        await store.coolDown('d1', MINUTE + 9000);
        expect((await store.loadOf(['d1'], MINUTE))[0]!.coolingUntilMs).toBe(MINUTE + 9000);
      }));
  });
}

const charge = (meter: string, limit: number, amount: number, window: WindowName, nowMs: number): Charge => {
  const p = position(window, nowMs);
  return { meter, limit, amount, bucket: p.bucket, windowBuckets: p.windowBuckets, ttlMs: p.ttlMs };
};

let reservations = 0;
const rid = () => `r${reservations++}`;

/** Admission: reservations all-or-nothing, exact at window boundaries, settled to real amounts once. */
export function ledgerContract(name: string, makeStore: () => Promise<StateStore>): void {
  describe(`StateStore ledger contract: ${name}`, () => {
    it('RPM is exact at the window boundary (pinned clock)', () =>
      withStore(() => makeStore(), async (store) => {
        const t0 = MINUTE + 0;
        for (let i = 0; i < 3; i++) expect((await store.admit(rid(), [charge('k:rpm', 3, 1, '1m', t0 + i * 1000)])).ok).toBe(true);
        expect(await store.admit(rid(), [charge('k:rpm', 3, 1, '1m', t0 + 59_999)])).toMatchObject({ ok: false, refused: 0, used: 3 });
        // At t0 + 60 s the first request's second has left the window: exactly one more fits.
        expect((await store.admit(rid(), [charge('k:rpm', 3, 1, '1m', t0 + 60_000)])).ok).toBe(true);
        expect((await store.admit(rid(), [charge('k:rpm', 3, 1, '1m', t0 + 60_500)])).ok).toBe(false);
        expect((await store.admit(rid(), [charge('k:rpm', 3, 1, '1m', t0 + 61_000)])).ok).toBe(true);
      }));

    it('reserves every charge or none, and says which did not fit and what it holds', () =>
      withStore(() => makeStore(), async (store) => {
        const t = MINUTE + 5000;
        expect(await store.admit(rid(), [charge('a', 10, 4, '1m', t), charge('b', 100, 50, '1h', t)])).toEqual({ ok: true, used: [4, 50] });
        const refused = await store.admit(rid(), [charge('a', 10, 4, '1m', t + 1000), charge('b', 100, 60, '1h', t + 1000)]);
        expect(refused).toEqual({ ok: false, refused: 1, used: 50, buckets: [[position('1h', t).bucket, 50]] });
        // Nothing of the refused request was kept in `a`.
        expect(await store.admit(rid(), [charge('a', 10, 6, '1m', t + 2000)])).toEqual({ ok: true, used: [10] });
        expect(await store.openReservations('a')).toBe(2);
      }));

    it('settles a reservation to the real amount and closes it, once', () =>
      withStore(() => makeStore(), async (store) => {
        const t = MINUTE;
        const c = charge('tpm', 1000, 600, '1m', t);
        expect((await store.admit('tpm-1', [c])).ok).toBe(true);
        expect((await store.admit(rid(), [charge('tpm', 1000, 600, '1m', t)])).ok).toBe(false);
        const settlement = [{ meter: 'tpm', bucket: c.bucket, delta: 100 - 600, ttlMs: c.ttlMs }];
        await store.settle('tpm-1', settlement);
        await store.settle('tpm-1', settlement); // replayed after an outage: no effect
        expect(await store.openReservations('tpm')).toBe(0);
        expect(await store.admit(rid(), [charge('tpm', 1000, 600, '1m', t)])).toEqual({ ok: true, used: [700] });
      }));

    it("moves a settled cost to a meter no reservation stands for (a fallback hop's budget), once", () =>
      withStore(() => makeStore(), async (store) => {
        const t = MINUTE;
        const planned = charge('provider:a:usd', 1000, 400, '1h', t);
        expect((await store.admit('moved-1', [planned])).ok).toBe(true);
        const served = charge('provider:b:usd', 1000, 0, '1h', t);
        const moved = [
          { meter: 'provider:a:usd', bucket: planned.bucket, delta: -400, ttlMs: planned.ttlMs },
          { meter: 'provider:b:usd', bucket: served.bucket, delta: 250, ttlMs: served.ttlMs, reserved: false },
        ];
        await store.settle('moved-1', moved);
        await store.settle('moved-1', moved);
        expect(await store.used([planned, served])).toEqual([0, 250]);
        expect(await store.openReservations('provider:a:usd')).toBe(0);
        expect(await store.openReservations('provider:b:usd')).toBe(0);
        // A request with nothing to reserve, whose fallback hop has a budget: an empty reservation.
        expect(await store.admit('moved-2', [])).toEqual({ ok: true, used: [] });
        const charged = [{ meter: 'provider:b:usd', bucket: served.bucket, delta: 100, ttlMs: served.ttlMs, reserved: false }];
        await store.settle('moved-2', charged);
        await store.settle('moved-2', charged);
        expect(await store.used([served])).toEqual([350]);
      }));

    it('lets exactly the limit through under concurrent admissions', () =>
      withStore(() => makeStore(), async (store) => {
        const results = await Promise.all(Array.from({ length: 50 }, () => store.admit(rid(), [charge('race', 10, 1, 'day', MINUTE)])));
        // A settlement for a reservation that was never made (an admission that timed out and did not land) does nothing.
        await store.settle('never-made', [{ meter: 'race', bucket: position('day', MINUTE).bucket, delta: -5, ttlMs: 60_000 }]);
        expect(results.filter((r) => r.ok)).toHaveLength(10);
        expect(await store.openReservations('race')).toBe(10);
      }));
  });
}

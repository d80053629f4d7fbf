/** One contract for every StateStore: run on the in-memory store and on a real Redis. */
import { describe, expect, it } from 'vitest';
import type { StateStore, UsageRecord } from '../../../src/state/store.js';

const DAY1 = Date.UTC(2026, 10, 21, 23, 59, 59);
const DAY2 = Date.UTC(2026, 10, 22, 0, 0, 1);

export function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: 'r',
    timestampMs: DAY1,
    keyId: 'key-1',
    requestedModel: 'gpt-4o-mini',
    deployment: 'mini-a',
    provider: 'openai',
    providerModel: 'gpt-4o-mini-2024-07-18',
    responseModel: 'gpt-4o-mini-2024-07-18',
    stream: false,
    status: 200,
    complete: true,
    promptTokens: 10,
    cachedPromptTokens: 0,
    completionTokens: 5,
    reasoningTokens: 0,
    totalTokens: 15,
    costNanos: 4500,
    latencyMs: 12,
    ttfbMs: 2,
    ttftMs: 3,
    ...overrides,
  };
}

export function stateStoreContract(name: string, makeStore: (maxLog: number) => Promise<StateStore>): void {
  describe(`StateStore contract: ${name}`, () => {
    it('aggregates per key, model and deployment per UTC day', async () => {
      const store = await makeStore(100);
      try {
        await store.recordUsage(record({ requestId: 'a' }));
        await store.recordUsage(record({ requestId: 'b', deployment: 'mini-b', promptTokens: 7, totalTokens: 12, costNanos: 1 }));
        await store.recordUsage(record({ requestId: 'c', timestampMs: DAY2 }));
        expect(await store.usageTotals('model', 'gpt-4o-mini', '2026-11-21')).toEqual({ requests: 2, promptTokens: 17, completionTokens: 10, totalTokens: 27, costNanos: 4501 });
        expect(await store.usageTotals('deployment', 'mini-b', '2026-11-21')).toEqual({ requests: 1, promptTokens: 7, completionTokens: 5, totalTokens: 12, costNanos: 1 });
        expect(await store.usageTotals('key', 'key-1', '2026-11-22')).toEqual({ requests: 1, promptTokens: 10, completionTokens: 5, totalTokens: 15, costNanos: 4500 });
        expect(await store.usageTotals('key', 'nobody', '2026-11-22')).toEqual({ requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costNanos: 0 });
      } finally {
        await store.close();
      }
    });

    it('keeps an append-only log, newest last, bounded', async () => {
      const store = await makeStore(1000);
      try {
        for (let i = 0; i < 5; i++) await store.recordUsage(record({ requestId: `r${i}` }));
        expect((await store.usageLog(3)).map((r) => r.requestId)).toEqual(['r2', 'r3', 'r4']);
        const all = await store.usageLog(100);
        expect(all).toHaveLength(5);
        expect(all[0]).toEqual(record({ requestId: 'r0' }));
      } finally {
        await store.close();
      }
    });

    it('loses no increment under concurrent writers', async () => {
      const store = await makeStore(10_000);
      try {
        await Promise.all(Array.from({ length: 200 }, (_, i) => store.recordUsage(record({ requestId: `c${i}`, costNanos: i }))));
        const t = await store.usageTotals('deployment', 'mini-a', '2026-11-21');
        expect(t.requests).toBe(200);
        expect(t.costNanos).toBe((199 * 200) / 2);
      } finally {
        await store.close();
      }
    });
  });
}

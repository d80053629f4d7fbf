import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/state/redis.js';
import { ledgerContract, loadContract, stateStoreContract } from '../support/contracts/state-store.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const store = (keyPrefix: string, maxLog = 100, replicaTtlMs?: number) =>
  new RedisStore({ url: redis.url, keyPrefix, commandTimeoutMs: 1000, maxLogEntries: maxLog, load: { latencySamples: 20, latencyMaxAgeMs: 60_000 }, replicaTtlMs });

stateStoreContract('redis', async (maxLog) => store(`contract:${process.pid}:${n++}:`, maxLog));
loadContract('redis', async () => store(`load:${process.pid}:${n++}:`));
ledgerContract('redis', async () => store(`ledger:${process.pid}:${n++}:`));

describe('Redis load across replicas', () => {
  it('sums in flight over live replicas and drops a replica that stopped answering', async () => {
    const prefix = `replicas:${process.pid}:${n++}:`;
    const [a, b] = [store(prefix, 100, 600), store(prefix, 100, 600)];
    try {
      await a.requestStarted('d1', Date.now(), 10);
      await b.requestStarted('d1', Date.now(), 10);
      await b.requestStarted('d1', Date.now(), 10);
      await new Promise((r) => setTimeout(r, 150)); // both heartbeats have landed
      expect((await a.loadOf(['d1'], Date.now()))[0]!.inFlight).toBe(3);
      // b dies with two requests open: they count until its heartbeat lapses, then never again.
      await b.close();
      await new Promise((r) => setTimeout(r, 800));
      expect((await a.loadOf(['d1'], Date.now()))[0]!.inFlight).toBe(1);
      expect((await a.loadOf(['d1'], Date.now()))[0]!.requestsInWindow).toBe(3);
    } finally {
      await a.close();
    }
  });
});

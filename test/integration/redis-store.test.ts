import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/devstack/processes.js';
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

const store = (keyPrefix: string, maxLog = 100, replicaTtlMs?: number, clock?: () => number) =>
  new RedisStore({ url: redis.url, keyPrefix, commandTimeoutMs: 1000, maxLogEntries: maxLog, load: { latencySamples: 20, latencyMaxAgeMs: 60_000 }, replicaTtlMs, clock });

stateStoreContract('redis', async (maxLog) => store(`contract:${process.pid}:${n++}:`, maxLog));
loadContract('redis', async () => store(`load:${process.pid}:${n++}:`));
ledgerContract('redis', async () => store(`ledger:${process.pid}:${n++}:`));

describe('Redis load across replicas', () => {
  it('sums in flight over live replicas and drops a replica that stopped answering', async () => {
    const prefix = `replicas:${process.pid}:${n++}:`;
    // One clock for both replicas, 1 ms before a minute boundary: the load read on either side of
    // it is exact, however long the test takes.
    const boundary = Date.UTC(2026, 10, 22, 12, 1, 0);
    let now = boundary - 1;
    const [a, b] = [store(prefix, 100, 600, () => now), store(prefix, 100, 600, () => now)];
    const load = async () => (await a.loadOf(['d1'], now))[0]!;
    try {
      await a.requestStarted('d1', now, 10);
      // b's first heartbeat went out on its connection before these: both have landed when they have.
      await b.requestStarted('d1', now, 10);
      await b.requestStarted('d1', now, 10);
      expect(await load()).toMatchObject({ inFlight: 3, requestsInWindow: 3, tokensInWindow: 30 });
      // b dies with two requests open: they count until its heartbeat lapses, then never again.
      await b.close();
      now += 600;
      expect(await load()).toMatchObject({ inFlight: 3 });
      now += 1;
      // 600 ms into the next minute: the minute before counts for what the sliding minute still covers.
      expect(await load()).toMatchObject({ inFlight: 1, requestsInWindow: 3 * (1 - 600 / 60_000) });
    } finally {
      await a.close();
    }
  });

  it('publishes a count Redis did not take with the next heartbeat', async () => {
    const prefix = `heal:${process.pid}:${n++}:`;
    const now = Date.UTC(2026, 10, 22, 12, 0, 30);
    // A heartbeat every 20 ms (a fifth of the replica TTL).
    const [a, b] = [store(prefix, 100, 100, () => now), store(prefix, 100, 100, () => now)];
    try {
      await b.requestStarted('d1', now, 10);
      expect((await a.loadOf(['d1'], now))[0]!.inFlight).toBe(1);
      // The request ends while Redis is unreachable: ResilientStore counts it in b alone.
      b.countInFlight('d1', -1);
      await waitUntil(async () => (await a.loadOf(['d1'], now))[0]!.inFlight === 0, 5000, () => 'the heartbeat never published the count');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

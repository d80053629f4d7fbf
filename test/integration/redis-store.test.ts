import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/state/redis.js';
import { stateStoreContract } from '../support/contracts/state-store.js';
import { startRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

stateStoreContract('redis', async (maxLog) => new RedisStore({ url: redis.url, keyPrefix: `contract:${process.pid}:${n++}:`, commandTimeoutMs: 1000, maxLogEntries: maxLog, load: { latencySamples: 20, latencyMaxAgeMs: 60_000 } }));

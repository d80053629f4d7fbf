/**
 * The cache never fails a request: Redis stopped (SIGSTOP) under three router replicas means every
 * request goes to the provider (bypass) and succeeds, and hits come back once Redis answers; a
 * corrupt entry is a miss, and is replaced.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis({ own: true });
  client = new Redis(redis.url);
  stack = await startStack({ redisUrl: redis.url, routers: 3, groups: { chat: { cache: { namespace: 'global' } } }, deployments: [{ name: 'chat-1', group: 'chat' }] });
}, 90_000);

afterAll(async () => {
  if (redis?.pid) process.kill(redis.pid, 'SIGCONT');
  client?.disconnect();
  await stack?.stop();
  await redis?.stop();
});

const ask = async (content: string, requestId?: string) => {
  const res = await postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content }] }, requestId === undefined ? {} : { 'x-request-id': requestId });
  return { status: res.status, cache: res.headers.get('x-llm-cache'), text: await res.text() };
};

it('bypasses the cache while Redis is stopped, fails no request, loses no record, and hits again after', async () => {
  const content = 'cached before the stall';
  expect((await ask(content)).cache).toBe('miss');
  await waitUntil(async () => (await ask(content)).cache === 'hit', 10_000, () => 'never a hit before the stall');

  process.kill(redis.pid!, 'SIGSTOP');
  const stalledAt = Date.now();
  const during: Array<{ status: number; cache: string | null }> = [];
  const ids: string[] = [];
  try {
    // Requests for the whole stall, one after another: each is answered, by the provider.
    for (let i = 0; Date.now() - stalledAt < 10_000; i++) {
      ids.push(`stall-${i}`);
      during.push(await ask(i % 2 === 0 ? content : `new during the stall ${i}`, `stall-${i}`));
    }
  } finally {
    process.kill(redis.pid!, 'SIGCONT');
  }
  expect(during.length).toBeGreaterThan(10);
  expect(during.every((r) => r.status === 200)).toBe(true);
  // Once the breaker is open every lookup is a bypass (the first ones waited out the hot-path timeout).
  expect(during.slice(-5).map((r) => r.cache)).toEqual(Array(5).fill('bypass'));

  await waitUntil(async () => (await ask(content)).cache === 'hit', 30_000, () => 'hits did not come back after Redis resumed');
  // Every request of the stall is billed once Redis is back (the writes were queued).
  await waitUntil(async () => {
    const seen = new Set((await stack.usageLog()).map((r) => r.requestId));
    return ids.every((id) => seen.has(id));
  }, 30_000, () => 'usage records of the stall missing');
}, 90_000);

it('reads a corrupt entry as a miss, deletes it and stores the answer again', async () => {
  const content = 'to be corrupted';
  expect((await ask(content)).cache).toBe('miss');
  await waitUntil(async () => (await ask(content)).cache === 'hit', 10_000, () => 'no entry stored');
  const [, keys] = await client.scan('0', 'MATCH', '*cache:global/*', 'COUNT', 10_000);
  expect(keys.length).toBeGreaterThan(0);
  await Promise.all(keys.map((k) => client.set(k, 'not an entry')));
  expect((await ask(content)).cache).toBe('miss');
  await waitUntil(async () => (await ask(content)).cache === 'hit', 10_000, () => 'the entry was not stored again');
});

/**
 * Usage through real Envoy into a real Redis: what the router bills equals what the provider
 * reported, for JSON and SSE responses, whether or not the client asked for streamed usage.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../support/redis.js';
import { PRICE, startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    deployments: [
      { name: 'a', group: 'gpt-4o-mini', behaviour: { chunks: 20 } },
      { name: 'b', group: 'gpt-4o-mini', behaviour: { chunks: 7 } },
    ],
    redisUrl: redis.url,
  });
});

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

async function waitForRecords(count: number) {
  for (let i = 0; i < 200; i++) {
    const log = await stack.usageLog();
    if (log.length >= count) return log;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`expected ${count} usage records`);
}

it('records exactly the usage the mock reported, streaming and not, with cost from the price table', async () => {
  const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-team-a', maxRetries: 0 });
  const since = Date.now();
  const prompts = ['short', 'a somewhat longer prompt with more words', 'x'.repeat(1000), 'üñíçødé ✓ 日本語'];
  let n = 0;
  for (const content of prompts) {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
    const withUsage = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content }] });
    for await (const _ of withUsage);
    const withoutUsage = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] });
    for await (const _ of withoutUsage);
    n += 3;
  }
  const log = await waitForRecords(n);
  expect(log).toHaveLength(n);
  const reported = Object.values(stack.mocks).flat().reduce(
    (t, m) => {
      const u = m.stats().usage;
      return { prompt: t.prompt + u.promptTokens, completion: t.completion + u.completionTokens };
    },
    { prompt: 0, completion: 0 },
  );
  const billed = log.reduce((t, r) => ({ prompt: t.prompt + r.promptTokens, completion: t.completion + r.completionTokens }), { prompt: 0, completion: 0 });
  expect(billed).toEqual(reported);
  for (const r of log) {
    expect(r.complete).toBe(true);
    expect(r.status).toBe(200);
    expect(r.costNanos).toBe(r.promptTokens * PRICE.input_per_million * 1000 + r.completionTokens * PRICE.output_per_million * 1000);
    expect(r.responseModel).toBe('gpt-4o-mini-provider');
  }
  expect(log.filter((r) => r.stream)).toHaveLength((n / 3) * 2);

  // The aggregates in Redis agree with the record log.
  const client2 = new Redis(redis.url);
  try {
    // One hash per UTC day: two when the test spans midnight.
    const days = await Promise.all((await client2.keys('test:*:usage:*:model:gpt-4o-mini')).map((k) => client2.hgetall(k)));
    const sum = (field: string) => days.reduce((t, h) => t + Number(h[field] ?? 0), 0);
    expect(sum('requests')).toBe(n);
    expect(sum('prompt_tokens')).toBe(billed.prompt);
    expect(sum('completion_tokens')).toBe(billed.completion);
    expect(sum('cost_nanos')).toBe(log.reduce((s, r) => s + r.costNanos, 0));
  } finally {
    client2.disconnect();
  }
  expect((await stack.usageTotals('model', 'gpt-4o-mini', since)).requests).toBe(n);
});

/**
 * Who pays when a fallback hop answers: its own provider's budget, with the reservation made for
 * the first deployment given back — in Redis, where every replica reads the same meters.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    redisUrl: redis.url,
    groups: { chat: { strategy: 'cost-based' }, local: { strategy: 'cost-based' } },
    config: {
      provider_budgets: [
        { provider: 'openai', usd: 10, window: 'day' },
        { provider: 'azure-openai', usd: 10, window: 'day' },
      ],
    },
    deployments: [
      // The cheaper one, so every request goes there first; it fails, and the other answers.
      { name: 'openai-cheap', group: 'chat', behaviour: { status: 503 }, extra: { provider: 'openai', price: { input_per_million: 1, output_per_million: 4 } } },
      { name: 'azure-dear', group: 'chat', extra: { provider: 'azure-openai' } },
      // A self-hosted deployment with no budget at all, failing; its hop's provider has one.
      { name: 'vllm-local', group: 'local', behaviour: { status: 503 }, extra: { provider: 'vllm', price: { input_per_million: 0, output_per_million: 0 } } },
      { name: 'azure-backup', group: 'local', extra: { provider: 'azure-openai' } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

/** A budget meter as the routers share it: spent over its buckets, and reservations still open. */
async function meter(name: string): Promise<{ spent: number; open: number }> {
  const client = new Redis(redis.url);
  try {
    const fields = await client.hgetall(`${stack.keyPrefix}meter:${name}`);
    let spent = 0;
    for (const [f, v] of Object.entries(fields)) if (f !== 'open') spent += Number(v);
    return { spent, open: Number(fields.open ?? 0) };
  } finally {
    client.disconnect();
  }
}

it("bills a fallback hop's provider, and gives the first deployment's provider its reservation back", async () => {
  for (let i = 0; i < 2; i++) {
    const res = await postChat(stack.url, { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  expect(stack.mocks['openai-cheap']![0]!.stats().statuses['503']).toBeGreaterThanOrEqual(2);
  const records = (await stack.usageLog()).filter((r) => r.status === 200);
  expect(records.map((r) => r.deployment)).toEqual(['azure-dear', 'azure-dear']);
  const billed = records.reduce((n, r) => n + r.costNanos, 0);
  expect(billed).toBeGreaterThan(0);
  let openai = await meter('provider:openai:usd:day');
  let azure = await meter('provider:azure-openai:usd:day');
  for (let i = 0; i < 50 && (openai.open !== 0 || azure.spent !== billed); i++) {
    await new Promise((r) => setTimeout(r, 50));
    [openai, azure] = [await meter('provider:openai:usd:day'), await meter('provider:azure-openai:usd:day')];
  }
  expect(openai).toEqual({ spent: 0, open: 0 });
  expect(azure).toEqual({ spent: billed, open: 0 });
  // The admin API's report reads the same meters.
  const report = (await (await stack.adminFetch('/budgets')).json()) as { data: Array<{ owner: string; spent_usd: number; limit_usd: number }> };
  expect(report.data).toEqual([
    expect.objectContaining({ owner: 'provider openai', spent_usd: 0, limit_usd: 10 }),
    expect.objectContaining({ owner: 'provider azure-openai', spent_usd: billed / 1e9, limit_usd: 10 }),
  ]);
});

it("bills a fallback hop's provider when the first deployment had nothing to reserve", async () => {
  const before = await meter('provider:azure-openai:usd:day');
  const res = await postChat(stack.url, { model: 'local', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  const record = (await stack.usageLog()).filter((r) => r.status === 200).at(-1)!;
  expect(record.deployment).toBe('azure-backup');
  let azure = await meter('provider:azure-openai:usd:day');
  for (let i = 0; i < 50 && azure.spent !== before.spent + record.costNanos; i++) {
    await new Promise((r) => setTimeout(r, 50));
    azure = await meter('provider:azure-openai:usd:day');
  }
  expect(azure).toEqual({ spent: before.spent + record.costNanos, open: 0 });
});

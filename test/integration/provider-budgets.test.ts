/** A provider's budget through real Envoy: once it would be passed, routing avoids that provider. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
// openai is the cheaper deployment, so cost-based routing prefers it until its $0.002 day budget
// has no room for another request's worst case (3 prompt tokens + max_tokens 10 at $1/$4 per 1M).
const CHEAP = { input_per_million: 1, output_per_million: 4 };

beforeAll(async () => {
  stack = await startStack({
    routing: { decision_header: true },
    groups: { chat: { strategy: 'cost-based' } },
    config: { provider_budgets: [{ provider: 'openai', usd: 0.002, window: 'day' }] },
    deployments: [
      { name: 'openai-cheap', group: 'chat', extra: { provider: 'openai', price: CHEAP } },
      { name: 'azure-dear', group: 'chat', extra: { provider: 'azure-openai' } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

it('sends traffic to the cheaper provider until its budget is spent, then to the other', async () => {
  const picks: string[] = [];
  for (let i = 0; i < 80; i++) {
    const res = await postChat(stack.url, { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-router-debug': '1' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    picks.push(/pick=([^;]+)/.exec(res.headers.get('x-llm-router-decision') ?? '')![1]!);
  }
  const switchAt = picks.indexOf('azure-dear');
  expect(switchAt).toBeGreaterThan(10);
  expect(picks.slice(switchAt).every((p) => p === 'azure-dear')).toBe(true);
  // Spend stays within the budget: each answer costs 1 × $1 + 10 × $4 per 1M = 41,000 nano-USD.
  expect(stack.mocks['openai-cheap']![0]!.stats().requests * 41_000).toBeLessThanOrEqual(2_000_000);
  const last = await postChat(stack.url, { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-router-debug': '1' });
  expect(last.headers.get('x-llm-router-decision')).toContain('excluded=openai-cheap:budget');
});

/**
 * Usage-based routing fed by the providers' own x-ratelimit-* headers (routing.provider_limit_headers),
 * through real Envoy: the router stops sending to a deployment before its provider refuses.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    routing: { provider_limit_headers: true },
    // The providers' minute never ends during the test: a boundary inside it would give both their
    // full limits back halfway, and the shares and the router's own 429 would no longer follow.
    mockLimitsClock: () => Date.UTC(2026, 0, 1, 12, 0, 0),
    groups: { reported: { strategy: 'usage-based' } },
    // No limits in router.yaml: what the router knows comes from the providers' headers.
    deployments: [
      { name: 'reported-small', group: 'reported', behaviour: { limit_tokens_per_minute: 300 } },
      { name: 'reported-large', group: 'reported', behaviour: { limit_tokens_per_minute: 600 } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

it('shares by reported headroom and stops before a provider refuses; then answers 429 itself', async () => {
  let refused: { headers: Headers; body: { error: { code: string; message: string } } } | null = null;
  for (let i = 0; i < 200 && refused === null; i++) {
    const res = await postChat(stack.url, { model: 'reported', messages: [{ role: 'user', content: 'count these tokens please' }] });
    if (res.status === 429) refused = { headers: res.headers, body: (await res.json()) as { error: { code: string; message: string } } };
    else {
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }
  const small = stack.mocks['reported-small']![0]!.stats();
  const large = stack.mocks['reported-large']![0]!.stats();
  // The providers never had to refuse: every request they got was within their limits.
  expect(small.statuses).toEqual({ 200: small.requests });
  expect(large.statuses).toEqual({ 200: large.requests });
  expect(Math.abs(large.requests - 2 * small.requests)).toBeLessThanOrEqual(3);
  expect(refused).not.toBeNull();
  const body = refused!.body;
  expect(body.error.code).toBe('rate_limited');
  expect(body.error.message).toMatch(/provider reports \d+\/300 tokens left/);
  expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(Number(refused!.headers.get('retry-after'))).toBeLessThanOrEqual(60);
});

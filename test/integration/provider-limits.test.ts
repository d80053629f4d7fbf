/**
 * Usage-based routing fed by the providers' own rate-limit headers (routing.provider_limit_headers),
 * through real Envoy: the router stops sending to a deployment before its provider refuses. The same
 * case for OpenAI's `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*` (read back from the
 * strict Anthropic mock, where the output-token window is the one that runs out).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Behaviour } from '../../src/mock/behaviour.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack, type StackDeployment } from '../support/stack.js';

let stack: Stack;

/**
 * Each request costs 17 tokens (7 prompt, 10 completion). OpenAI's pair runs out of tokens after 18
 * and 36 requests; Anthropic's would after the same, but its output windows (10 completion tokens
 * each) run out first, after 10 and 20 — a window Anthropic's combined `tokens-*` figure hides.
 */
const PAIRS: ReadonlyArray<{ provider: 'openai' | 'anthropic'; small: Partial<Behaviour>; large: Partial<Behaviour> }> = [
  { provider: 'openai', small: { limit_tokens_per_minute: 300 }, large: { limit_tokens_per_minute: 600 } },
  {
    provider: 'anthropic',
    small: { limit_tokens_per_minute: 300, limit_output_tokens_per_minute: 100 },
    large: { limit_tokens_per_minute: 600, limit_output_tokens_per_minute: 200 },
  },
];

beforeAll(async () => {
  const deployments: StackDeployment[] = PAIRS.flatMap(({ provider, small, large }) =>
    (['small', 'large'] as const).map((size) => ({
      name: `${provider}-${size}`,
      group: `reported-${provider}`,
      behaviour: size === 'small' ? small : large,
      ...(provider === 'anthropic' ? { apiKeyEnv: 'KEY_CLAUDE', providerModel: 'claude-sonnet-4-5', extra: { provider } } : {}),
    })),
  );
  stack = await startStack({
    routing: { provider_limit_headers: true },
    // The providers' minute never ends during the test: a boundary inside it would give both their
    // full limits back halfway, and the shares and the router's own 429 would no longer follow.
    mockLimitsClock: () => Date.UTC(2026, 0, 1, 12, 0, 0),
    groups: { 'reported-openai': { strategy: 'usage-based' }, 'reported-anthropic': { strategy: 'usage-based' } },
    // No limits in router.yaml: what the router knows comes from the providers' headers.
    deployments,
    routerEnv: { KEY_CLAUDE: 'sk-ant-secret' },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

it.each(PAIRS.map((p) => p.provider))('%s: shares by reported headroom and stops before the provider refuses; then answers 429 itself', async (provider) => {
  let refused: { headers: Headers; body: { error: { code: string; message: string } } } | null = null;
  for (let i = 0; i < 200 && refused === null; i++) {
    const res = await postChat(stack.url, { model: `reported-${provider}`, messages: [{ role: 'user', content: 'count these tokens please' }] });
    if (res.status === 429) refused = { headers: res.headers, body: (await res.json()) as { error: { code: string; message: string } } };
    else {
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }
  const small = stack.mocks[`${provider}-small`]![0]!.stats();
  const large = stack.mocks[`${provider}-large`]![0]!.stats();
  // The providers never had to refuse: every request they got was within their limits.
  expect(small.statuses).toEqual({ 200: small.requests });
  expect(large.statuses).toEqual({ 200: large.requests });
  expect(small.requests).toBeGreaterThan(0);
  // Anthropic's pair served exactly what its output windows allow (10 + 20), not the 17 + 35 its
  // combined token windows would.
  if (provider === 'anthropic') expect(small.requests + large.requests).toBe(30);
  expect(Math.abs(large.requests - 2 * small.requests)).toBeLessThanOrEqual(3);
  expect(refused).not.toBeNull();
  const body = refused!.body;
  expect(body.error.code).toBe('rate_limited');
  expect(body.error.message).toMatch(/provider reports \d+\/300 tokens left/);
  expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(Number(refused!.headers.get('retry-after'))).toBeLessThanOrEqual(60);
});

/**
 * Load shedding by tier through real Envoy: when a group is busy, the free tier is refused (503 with
 * Retry-After) or degraded to a cheaper group, while premium traffic is still served.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
const KEYS = { premium: 'sk-shed-premium-1', free: 'sk-shed-free-2', trial: 'sk-shed-trial-3' };

beforeAll(async () => {
  stack = await startStack({
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'premium', key_sha256: hashKey(KEYS.premium), tier: 'premium' },
        { name: 'free', key_sha256: hashKey(KEYS.free), tier: 'free' },
        { name: 'trial', key_sha256: hashKey(KEYS.trial), tier: 'trial' },
      ],
      shedding: [
        { tier: 'free', max_in_flight: 3 },
        { tier: 'trial', max_in_flight: 3, degrade_to: 'cheap' },
      ],
    },
    deployments: [
      { name: 'big-1', group: 'big', behaviour: { latency_ms: 2000 } },
      { name: 'cheap-1', group: 'cheap' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const ask = (key: string) => postChat(stack.url, { model: 'big', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${key}` });

it('sheds the free tier past its threshold, degrades the trial tier, and still serves premium', async () => {
  stack.resetMocks();
  // Below the threshold, free traffic is served like any other.
  const calm = await ask(KEYS.free);
  await calm.arrayBuffer();
  expect(calm.status).toBe(200);

  const premium = Array.from({ length: 5 }, () => ask(KEYS.premium));
  // Asked while the five are in flight at the slow deployment (it holds each for 2 s).
  await waitUntil(async () => stack.mocks['big-1']![0]!.stats().inFlight === 5, 10_000, () => 'the five premium requests never were in flight together');
  const free = await ask(KEYS.free);
  const trial = await ask(KEYS.trial);
  const morePremium = await ask(KEYS.premium);

  expect(free.status).toBe(503);
  expect(free.headers.get('retry-after')).toBe('1');
  expect(((await free.json()) as { error: { code: string; type: string; message: string } }).error).toMatchObject({
    code: 'overloaded',
    type: 'service_unavailable_error',
    message: expect.stringMatching(/^'big' is at capacity for tier 'free' \(5 requests in flight, limit 3\)/),
  });
  expect(trial.status).toBe(200);
  expect(((await trial.json()) as { model: string }).model).toBe('cheap-provider');
  expect(morePremium.status).toBe(200);
  await morePremium.arrayBuffer();
  for (const r of await Promise.all(premium)) {
    expect(r.status).toBe(200);
    await r.arrayBuffer();
  }
  // The shed request never reached a provider; the degraded one reached the cheap group only.
  expect(stack.mocks['big-1']![0]!.stats().requests).toBe(1 + 5 + 1);
  expect(stack.mocks['cheap-1']![0]!.stats().requests).toBe(1);
  const metrics = await (await fetch(`${stack.routerAdmin}/metrics`)).text();
  expect(metrics).toContain('llm_router_shed_total{tier="free",group="big",action="refused"} 1');
  expect(metrics).toContain('llm_router_shed_total{tier="trial",group="big",action="degraded"} 1');
});

/**
 * Admission through real Envoy, three router replicas and real Redis: budgets and rate limits are
 * exact under concurrency, refusals say why with OpenAI's headers, and every reservation ends.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { PRICE, startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;
let client: Redis;

const KEYS = { budget: 'sk-adm-budget-01', tpm: 'sk-adm-tpm-02', rpm: 'sk-adm-rpm-03', ends: 'sk-adm-ends-04' };
// A 1-token prompt with max_tokens 1000 reserves 2,000 + 8,000,000 nano-USD at the stack's price;
// the mock answers with 10 completion tokens (82,000 nano-USD). $0.01 has room for one reservation.
const BUDGET_USD = 0.01;
const WORST_CASE_NANOS = 1 * PRICE.input_per_million * 1000 + 1000 * PRICE.output_per_million * 1000;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    redisUrl: redis.url,
    // Exactness under concurrency is what this file checks, not the degraded mode a Redis call past
    // the 50 ms default puts a router in (redis-faults.test.ts checks that): on a loaded machine
    // such a call is the machine's doing, and admission would then fall back to local state.
    redisOptions: { hot_path_timeout_ms: 2000 },
    routers: 3,
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'budget', key_sha256: hashKey(KEYS.budget), budgets: [{ usd: BUDGET_USD, window: 'day' }] },
        { name: 'tpm', key_sha256: hashKey(KEYS.tpm), tpm_limit: 2000 },
        { name: 'rpm', key_sha256: hashKey(KEYS.rpm), rpm_limit: 3 },
        { name: 'ends', key_sha256: hashKey(KEYS.ends), tpm_limit: 1_000_000, budgets: [{ usd: 100, window: '1h' }] },
      ],
    },
    deployments: [{ name: 'slow', group: 'chat', behaviour: { latency_ms: 100, ttft_ms: 100, chunks: 10, chunk_interval_ms: 20 } }],
  });
  client = new Redis(redis.url);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await stack?.stop();
  await redis?.stop();
});

const prefix = () => `${stack.keyPrefix}meter:`;
const chat = (key: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
  postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra }, { authorization: `Bearer ${key}` }, signal);

describe('admission', () => {
  it('50 concurrent requests against a budget with room for one: spend stays within budget + one worst case', async () => {
    stack.resetMocks();
    const since = Date.now();
    const responses = await Promise.all(Array.from({ length: 50 }, () => chat(KEYS.budget, { max_tokens: 1000 })));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ error?: { code: string; type: string; message: string } }>));
    const admitted = responses.filter((r) => r.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    const refused = bodies.filter((b) => b.error !== undefined);
    expect(refused.length).toBe(50 - admitted);
    for (const [i, b] of bodies.entries()) {
      if (b.error === undefined) continue;
      expect(responses[i]!.status).toBe(429);
      expect(b.error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
      expect(b.error.message).toMatch(/^The day budget of key budget is spent: \$0\.\d+ of \$0\.01 used\. It has room again at \d{4}-\d\d-\d\dT00:00:00\.000Z/);
      expect(Number(responses[i]!.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(stack.mocks.slow![0]!.stats().requests).toBe(admitted);
    const totals = await stack.usageTotals('key', 'budget', since);
    expect(totals.costNanos).toBeLessThanOrEqual(BUDGET_USD * 1e9 + WORST_CASE_NANOS);
  });

  it('a TPM limit shared by three replicas under 64 clients is overshot by no more than the in-flight reservations', async () => {
    stack.resetMocks();
    // max_tokens 2 reserves 1 + 2 tokens; the mock uses 1 + 10: each admitted request may pass its
    // reservation by 8 tokens, and at most 64 are in flight. Each client goes on until it is refused
    // (however slow the machine: 12 s seen on a loaded one), well within the minute, so nothing
    // leaves the window meanwhile.
    const deadline = Date.now() + 45_000;
    let ok = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (Date.now() < deadline) {
          const res = await chat(KEYS.tpm, { max_tokens: 2 });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else {
            expect(res.status).toBe(429);
            expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('2000');
            refused++;
            return;
          }
        }
      }),
    );
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    const served = stack.mocks.slow![0]!.stats().usage.totalTokens;
    expect(served).toBeLessThanOrEqual(2000 + 64 * 8);
  });

  it('RPM: the fourth request in a minute gets 429 with Retry-After and x-ratelimit headers; admitted ones carry what remains', async () => {
    stack.resetMocks();
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await chat(KEYS.rpm);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      remaining.push(res.headers.get('x-ratelimit-remaining-requests')!);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const res = await chat(KEYS.rpm);
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(((await res.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(stack.mocks.slow![0]!.stats().requests).toBe(3);
  });

  it('cancelled streams and upstream errors return every reservation', async () => {
    const cancels = Array.from({ length: 10 }, async () => {
      const controller = new AbortController();
      const res = await chat(KEYS.ends, { stream: true }, controller.signal);
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
    });
    const errors = Array.from({ length: 10 }, async () => {
      const res = await postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${KEYS.ends}`, 'x-mock-status': '400' });
      await res.arrayBuffer();
      expect(res.status).toBe(400);
    });
    await Promise.all([...cancels, ...errors]);
    const open = async () => Promise.all(['key:ends:tpm', 'key:ends:usd:1h'].map(async (m) => Number((await client.hget(prefix() + m, 'open')) ?? 0)));
    const deadline = Date.now() + 3000;
    let counts = await open();
    while (counts.some((c) => c !== 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      counts = await open();
    }
    expect(counts).toEqual([0, 0]);
    // The failed requests gave their tokens back. The streams cut before their usage are charged
    // what was delivered (their usage records, estimated); one cut before any answer text keeps
    // what it reserved ('hi' is estimated at 3 prompt tokens, plus 1,024 by default).
    const fields = await client.hgetall(prefix() + 'key:ends:tpm');
    const counted = Object.entries(fields).reduce((n, [f, v]) => (f === 'open' ? n : n + Number(v)), 0);
    const streams = (await stack.usageLog()).filter((r) => r.keyId === 'ends' && r.stream);
    expect(streams).toHaveLength(10);
    expect(counted).toBe(streams.reduce((n, r) => n + (r.usageEstimated ? r.totalTokens : 3 + 1024), 0));
  });
});

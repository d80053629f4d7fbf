/**
 * Virtual keys through real Envoy, two router replicas and real Redis: who may call, which models,
 * keys added and removed at runtime, and the key's tags and tier steering the route.
 */
import { readFile } from 'node:fs/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import type { UsageDimension } from '../../src/state/store.js';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;
/** When the stack started: every request of this file was sent since. */
let started = 0;

const KEYS = {
  team: 'sk-test-team-0001',
  limited: 'sk-test-limited-0002',
  disabled: 'sk-test-disabled-0003',
  paid: 'sk-test-paid-0004',
};

beforeAll(async () => {
  started = Date.now();
  redis = await startRedis();
  stack = await startStack({
    redisUrl: redis.url,
    routers: 2,
    routing: { tiers: [{ name: 'premium', pools: ['high', 'normal'] }, { name: 'free', pools: ['normal'] }] },
    config: {
      auth: { mode: 'keys', cache_ms: 300 },
      keys: [
        { name: 'team-a', key_sha256: hashKey(KEYS.team), team: 'a', tier: 'premium' },
        { name: 'limited', key_sha256: hashKey(KEYS.limited), models: ['cheap'], tier: 'free' },
        { name: 'off', key_sha256: hashKey(KEYS.disabled), disabled: true },
        { name: 'paid-key', key_sha256: hashKey(KEYS.paid), tags: ['paid'] },
      ],
    },
    deployments: [
      { name: 'cheap-1', group: 'cheap' },
      { name: 'pool-high', group: 'tiered', extra: { tier: 'high' } },
      { name: 'pool-normal', group: 'tiered', extra: { tier: 'normal' } },
      { name: 'tag-paid', group: 'tagged', extra: { tags: ['paid'] } },
      { name: 'tag-default', group: 'tagged', extra: { tags: ['default'] } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

const body = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function call(model: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: { code: string; type: string; message: string } } }> {
  const res = await postChat(stack.url, body(model), headers);
  return { status: res.status, body: (await res.json()) as { error?: { code: string; type: string; message: string } } };
}

describe('virtual keys', () => {
  it('refuses a missing, unknown or disabled key with 401, and a model the key may not use with 403; no provider sees them', async () => {
    stack.resetMocks();
    const missing = await call('cheap', {});
    expect(missing).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key', type: 'invalid_request_error' } } });
    expect((await call('cheap', bearer('sk-nobody-knows'))).status).toBe(401);
    expect((await call('cheap', bearer(KEYS.disabled))).body.error?.message).toBe("The API key 'off' is disabled.");
    const notAllowed = await call('tiered', bearer(KEYS.limited));
    expect(notAllowed).toMatchObject({ status: 403, body: { error: { code: 'model_not_allowed' } } });
    expect(stack.mockRequests()).toBe(0);
    expect((await call('cheap', bearer(KEYS.limited))).status).toBe(200);
    expect((await call('cheap', { 'x-api-key': KEYS.team })).status).toBe(200);
  });

  it('lists only the models a key may use at /v1/models', async () => {
    const list = async (key: string) =>
      ((await (await fetch(`${stack.url}/v1/models`, { headers: bearer(key) })).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id).sort();
    expect(await list(KEYS.limited)).toEqual(['cheap']);
    expect(await list(KEYS.team)).toEqual(['cheap', 'tagged', 'tiered']);
    expect((await fetch(`${stack.url}/v1/models`)).status).toBe(401);
  });

  it('retrieves one model a key may use at /v1/models/{id}, in the SDK; 404 otherwise', async () => {
    const sdk = (key: string) => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });
    expect(await sdk(KEYS.limited).models.retrieve('cheap')).toMatchObject({ id: 'cheap', object: 'model' });
    for (const [key, model] of [[KEYS.limited, 'tiered'], [KEYS.team, 'no-such-model']] as const) {
      const err = await sdk(key).models.retrieve(model).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    }
  });

  it("routes by the key's tier and tags, whatever headers the client sends", async () => {
    for (let i = 0; i < 6; i++) {
      const premium = await postChat(stack.url, body('tiered'), { ...bearer(KEYS.team), 'x-llm-tier': 'free' });
      expect(premium.status).toBe(200);
      await premium.arrayBuffer();
      await (await postChat(stack.url, body('tagged'), bearer(KEYS.paid))).arrayBuffer();
    }
    expect(stack.mocks['pool-high']![0]!.stats().requests).toBe(6);
    expect(stack.mocks['pool-normal']![0]!.stats().requests).toBe(0);
    expect(stack.mocks['tag-paid']![0]!.stats().requests).toBe(6);
  });

  it('takes keys added at runtime on any replica, and drops removed ones', async () => {
    const key = 'sk-test-runtime-0005';
    expect((await call('cheap', bearer(key))).status).toBe(401);
    const put = await stack.adminFetch('/keys', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'runtime', key, models: ['cheap'] }) });
    expect(await put.json()).toEqual({ name: 'runtime', key_sha256: hashKey(key) });
    await new Promise((r) => setTimeout(r, 400)); // the other replica's memory of "unknown" lapses
    for (let i = 0; i < 6; i++) expect((await call('cheap', bearer(key))).status).toBe(200); // both replicas
    expect((await call('tiered', bearer(key))).status).toBe(403);
    const del = await stack.adminFetch(`/keys/${hashKey(key)}`, { method: 'DELETE' }, 1);
    expect(await del.json()).toEqual({ removed: true });
    await new Promise((r) => setTimeout(r, 400));
    for (let i = 0; i < 4; i++) expect((await call('cheap', bearer(key))).status).toBe(401);
  });

  it('bills usage to the key name and never writes a key to the logs', async () => {
    const log = (await (await stack.adminFetch('/usage/log?limit=1000')).json()) as { data: Array<{ keyId: string }> };
    expect(new Set(log.data.map((r) => r.keyId))).toEqual(new Set(['limited', 'team-a', 'paid-key', 'runtime']));
    // Per-day totals by the key's team and its tags, as by the key itself.
    const totals = async (dimension: UsageDimension, id: string) => (await stack.usageTotals(dimension, id, started)).requests;
    expect(await totals('team', 'a')).toBe(await totals('key', 'team-a'));
    expect(await totals('tag', 'paid')).toBe(await totals('key', 'paid-key'));
    expect(await totals('team', 'a')).toBeGreaterThan(0);
    const text = (await Promise.all(stack.routers.map((r) => readFile(r.logFile!, 'utf8')))).join('');
    for (const key of [...Object.values(KEYS), 'sk-test-runtime-0005']) expect(text).not.toContain(key);
  });
});

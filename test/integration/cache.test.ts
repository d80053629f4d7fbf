/**
 * The exact cache behind real Envoy, three router replicas and a real Redis: a repeated request is
 * answered by Envoy from the cache (the provider not called, the same bytes, `x-llm-cache: hit`),
 * a streamed one as a stream the openai SDK reads like a live one, tenants apart unless a group
 * shares by team, 50 identical requests at once reaching the provider once, and a hit billed at
 * cost 0 with what it saved.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import type { UsageRecord } from '../../src/state/store.js';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat, readStream } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startStack, type AccessLogEntry, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;
let started: number;

const KEYS = { a: 'sk-cache-a-0001', b: 'sk-cache-b-0002', other: 'sk-cache-c-0003', limited: 'sk-cache-l-0004', metered: 'sk-cache-m-0005' };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  started = Date.now();
  redis = await startRedis();
  stack = await startStack({
    redisUrl: redis.url,
    routers: 3,
    groups: {
      cached: { cache: { ttl_seconds: 600 } },
      shared: { cache: { namespace: 'team' } },
      vectors: { cache: {} },
      pinned: { cache: { key_by: 'deployment' } },
    },
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'a', key_sha256: hashKey(KEYS.a), team: 'red' },
        { name: 'b', key_sha256: hashKey(KEYS.b), team: 'red' },
        { name: 'other', key_sha256: hashKey(KEYS.other), team: 'blue' },
        { name: 'limited', key_sha256: hashKey(KEYS.limited), rpm_limit: 3, tpm_limit: 100_000 },
        { name: 'metered', key_sha256: hashKey(KEYS.metered), rpm_limit: 10_000 },
      ],
    },
    deployments: [
      { name: 'cached-1', group: 'cached' },
      { name: 'shared-1', group: 'shared' },
      { name: 'vectors-1', group: 'vectors', extra: { capabilities: ['embeddings'], provider_model: 'text-embedding-3-small', price: { input_per_million: 0.02, output_per_million: 0 } } },
      { name: 'plain-1', group: 'plain' },
      { name: 'pinned-1', group: 'pinned' },
    ],
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

/** A prompt no other test sends: each test starts from an empty cache. */
const fresh = (what: string) => `${what} ${Math.random().toString(36).slice(2)}`;
const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'cached', messages: [{ role: 'user', content }], ...extra });

async function send(body: unknown, key = KEYS.a, headers: Record<string, string> = {}): Promise<{ status: number; cache: string | null; age: string | null; type: string | null; text: string }> {
  const res = await postChat(stack.url, body, { ...bearer(key), ...headers });
  return { status: res.status, cache: res.headers.get('x-llm-cache'), age: res.headers.get('age'), type: res.headers.get('content-type'), text: await res.text() };
}

const recordOf = async (requestId: string): Promise<UsageRecord> => {
  let found: UsageRecord | undefined;
  await waitUntil(async () => (found = (await stack.usageLog()).find((r) => r.requestId === requestId)) !== undefined, 10_000, () => `no usage record for ${requestId}`);
  return found!;
};

describe('exact cache', () => {
  it('answers the same request again from the cache: the provider is not called, the content is identical', async () => {
    const body = chat(fresh('hello'));
    const first = await send(body);
    expect(first).toMatchObject({ status: 200, cache: 'miss' });
    const calls = stack.mockRequests();
    const second = await send(body);
    expect(second).toMatchObject({ status: 200, cache: 'hit', type: 'application/json' });
    expect(second.text).toBe(first.text);
    expect(Number(second.age)).toBeGreaterThanOrEqual(0);
    expect(stack.mockRequests()).toBe(calls);
  });

  it('serves a cached stream the openai SDK reads like a live one, with the usage chunk only when asked', async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEYS.a, maxRetries: 0 });
    const content = fresh('stream');
    const streamed = async (includeUsage: boolean) => {
      const { data, response } = await client.chat.completions
        .create({ model: 'cached', stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content }] })
        .withResponse();
      return { cache: response.headers.get('x-llm-cache'), ...(await readStream(data)) };
    };
    const live = await streamed(true);
    expect(live.cache).toBe('miss');
    const calls = stack.mockRequests();
    const cached = await streamed(true);
    expect(cached).toEqual({ ...live, cache: 'hit' });
    expect(cached.usage).not.toBeNull();
    expect(stack.mockRequests()).toBe(calls);

    const liveNoUsage = await streamed(false);
    expect(liveNoUsage).toMatchObject({ cache: 'miss', usage: null });
    const cachedNoUsage = await streamed(false);
    expect(cachedNoUsage).toEqual({ ...liveNoUsage, cache: 'hit' });

    // The same messages without `stream`: a JSON answer of its own, never the stored stream.
    const json = await send(chat(content));
    expect(json).toMatchObject({ status: 200, cache: 'miss', type: expect.stringMatching(/^application\/json/) });
  });

  it('keeps each key apart, and shares within a team where the group says so', async () => {
    const own = chat(fresh('mine'));
    expect((await send(own, KEYS.a)).cache).toBe('miss');
    expect((await send(own, KEYS.b)).cache).toBe('miss');
    expect((await send(own, KEYS.a)).cache).toBe('hit');

    const team = { ...chat(fresh('ours')), model: 'shared' };
    const first = await send(team, KEYS.a);
    expect(first.cache).toBe('miss');
    const mate = await send(team, KEYS.b);
    expect(mate).toMatchObject({ cache: 'hit', text: first.text });
    expect((await send(team, KEYS.other)).cache).toBe('miss');
  });

  it('sends 50 identical requests arriving together to the provider once', async () => {
    const body = chat(fresh('stampede'));
    const calls = stack.mockRequests();
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(body, KEYS.a, { 'x-mock-latency-ms': '500' })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(stack.mockRequests() - calls).toBe(1);
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers.filter((a) => a.cache === 'miss')).toHaveLength(1);
  });

  it('bills a hit at cost 0 with the cost it saved, and counts it in the totals', async () => {
    const body = chat(fresh('bill me'));
    await send(body, KEYS.a, { 'x-request-id': `${body.messages[0]!.content}-1` });
    const paid = await recordOf(`${body.messages[0]!.content}-1`);
    expect(paid).toMatchObject({ cache: { kind: 'exact', result: 'miss' }, savedCostNanos: 0 });
    expect(paid.costNanos).toBeGreaterThan(0);
    const before = await stack.usageTotals('key', 'a', started);
    await send(body, KEYS.a, { 'x-request-id': `${body.messages[0]!.content}-2` });
    const hit = await recordOf(`${body.messages[0]!.content}-2`);
    expect(hit).toMatchObject({ cache: { kind: 'exact', result: 'hit' }, costNanos: 0, savedCostNanos: paid.costNanos, deployment: 'cached-1', keyId: 'a', status: 200, complete: true });
    const after = await stack.usageTotals('key', 'a', started);
    expect(after.cacheHits - before.cacheHits).toBeGreaterThanOrEqual(1);
    expect(after.cacheMisses - before.cacheMisses).toBeGreaterThanOrEqual(0);
    expect(after.cacheMisses).toBeGreaterThanOrEqual(1);
    expect(after.savedCostNanos - before.savedCostNanos).toBeGreaterThanOrEqual(paid.costNanos);
    const metrics = (await Promise.all(stack.routerAdmins.map(async (admin) => (await fetch(`${admin}/metrics`)).text()))).join('\n');
    expect(metrics).toMatch(/llm_router_cache_requests_total\{group="cached",result="hit"\} \d+/);
    expect(metrics).toMatch(/llm_router_cache_saved_nanos_total\{group="cached"\} \d+/);
  });

  it("counts a hit against the key's request rate, not its tokens", async () => {
    const body = chat(fresh('rate me'));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await send(body, KEYS.limited));
    expect(answers.map((a) => [a.status, a.cache])).toEqual([
      [200, 'miss'],
      [200, 'hit'],
      [200, 'hit'],
      [429, null],
    ]);
    const records = (await stack.usageLog()).filter((r) => r.keyId === 'limited');
    expect(records.filter((r) => r.cache?.result === 'hit').every((r) => r.totalTokens === 0)).toBe(true);
  });

  it("answers an Anthropic client from the cache in the Messages API's own form, JSON and stream apart", async () => {
    const content = fresh('messages');
    const messages = (stream: boolean) =>
      fetch(`${stack.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': KEYS.a },
        body: JSON.stringify({ model: 'cached', max_tokens: 64, ...(stream ? { stream: true } : {}), messages: [{ role: 'user', content }] }),
      });
    for (const stream of [false, true]) {
      const first = await messages(stream);
      expect([first.status, first.headers.get('x-llm-cache')]).toEqual([200, 'miss']);
      const text = await first.text();
      const calls = stack.mockRequests();
      const second = await messages(stream);
      expect([second.status, second.headers.get('x-llm-cache')]).toEqual([200, 'hit']);
      const again = await second.text();
      expect(again).toBe(text);
      expect(stack.mockRequests()).toBe(calls);
      if (stream) expect(again).toContain('event: message_stop');
      else expect(JSON.parse(again)).toMatchObject({ type: 'message', role: 'assistant' });
    }
  });

  it('keys entries by the deployment once routed, where the group says so', async () => {
    const body = { ...chat(fresh('pinned')), model: 'pinned' };
    expect((await send(body)).cache).toBe('miss');
    const calls = stack.mockRequests();
    const hit = await send(body, KEYS.a, { 'x-request-id': `${body.messages[0]!.content}-hit` });
    expect(hit.cache).toBe('hit');
    expect(stack.mockRequests()).toBe(calls);
    expect(await recordOf(`${body.messages[0]!.content}-hit`)).toMatchObject({ deployment: 'pinned-1', cache: { result: 'hit' } });
  });

  it('caches embeddings', async () => {
    const body = { model: 'vectors', input: fresh('embed me') };
    const post = () => fetch(`${stack.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(KEYS.a) }, body: JSON.stringify(body) });
    const first = await post();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-llm-cache')).toBe('miss');
    const text = await first.text();
    const calls = stack.mockRequests();
    const second = await post();
    expect(second.headers.get('x-llm-cache')).toBe('hit');
    expect(await second.text()).toBe(text);
    expect(stack.mockRequests()).toBe(calls);
  });

  it('lets a request opt out: no-store bypasses it, no-cache refreshes it, and a group without a cache says nothing', async () => {
    const body = chat(fresh('opt out'));
    expect((await send(body, KEYS.a, { 'cache-control': 'no-store' })).cache).toBe('bypass');
    expect((await send(body)).cache).toBe('miss');
    expect((await send(body, KEYS.a, { 'cache-control': 'no-cache' })).cache).toBe('bypass');
    expect((await send(body)).cache).toBe('hit');
    const unstored = chat(fresh('body field'), { cache: { no_store: true } });
    expect((await send(unstored)).cache).toBe('bypass');
    // The router's field never reaches the provider.
    expect(stack.lastSeen('cached-1').body).not.toHaveProperty('cache');
    expect((await send({ ...chat('plain'), model: 'plain' })).cache).toBeNull();
  });

  it('says what it found without a response-headers message: Envoy adds x-llm-cache from the router\'s metadata, and logs it', async () => {
    const body = chat(fresh('no extra message'));
    const miss = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { ...bearer(KEYS.a), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect([miss.status, miss.headers.get('x-llm-cache')]).toEqual([200, 'miss']);
    await miss.text();
    const hit = await send(body);
    expect(hit.cache).toBe('hit');
    const plain = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { ...bearer(KEYS.a), 'content-type': 'application/json' }, body: JSON.stringify({ ...chat('plain'), model: 'plain' }) });
    expect(plain.headers.get('x-llm-cache')).toBeNull();
    await plain.text();
    const lineOf = async (requestId: string) => {
      let line: AccessLogEntry | undefined;
      await waitUntil(async () => (line = (await stack.accessLog()).find((e) => e.request_id === requestId)) !== undefined, 15_000, () => `no access log line for ${requestId}`);
      return line!;
    };
    // The miss and the uncached group's request went to the provider with no response-headers phase;
    // a key with a rate limit has one (its limit headers), which the log shows.
    expect(await lineOf(miss.headers.get('x-request-id')!)).toMatchObject({ cache: 'miss', router_response_headers_us: null });
    expect(await lineOf(plain.headers.get('x-request-id')!)).toMatchObject({ cache: null, router_response_headers_us: null });
    const metered = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { ...bearer(KEYS.metered), 'content-type': 'application/json' }, body: JSON.stringify(chat(fresh('metered'))) });
    expect([metered.status, metered.headers.get('x-llm-cache')]).toEqual([200, 'miss']);
    await metered.text();
    expect(Number((await lineOf(metered.headers.get('x-request-id')!)).router_response_headers_us)).toBeGreaterThan(0);
  });

  it('stores nothing for x-llm-cache-ttl: 0', async () => {
    const body = chat(fresh('short-lived'));
    expect((await send(body, KEYS.a, { 'x-llm-cache-ttl': '0' })).cache).toBe('miss');
    expect((await send(body)).cache).toBe('miss');
  });

  it('lists and purges a namespace and one entry through the admin API, behind its token', async () => {
    const body = chat(fresh('purge me'));
    await send(body, KEYS.b);
    await waitUntil(async () => (await send(body, KEYS.b)).cache === 'hit', 5000, () => 'never a hit');
    expect((await fetch(`${stack.routerAdmin}/cache/key:b`)).status).toBe(401);
    const listed = (await (await stack.adminFetch('/cache/key:b')).json()) as { namespace: string; keys: string[] };
    expect(listed.keys.length).toBeGreaterThanOrEqual(1);
    const one = listed.keys[0]!;
    const entry = (await (await stack.adminFetch(`/cache/key:b/${one}`)).json()) as { contentType: string; deployment: string };
    expect(entry).toMatchObject({ contentType: 'application/json', deployment: 'cached-1' });
    expect((await stack.adminFetch(`/cache/key:b/${one}`, { method: 'DELETE' })).status).toBe(200);
    expect((await stack.adminFetch(`/cache/key:b/${one}`)).status).toBe(404);
    const purged = (await (await stack.adminFetch('/cache/key:b', { method: 'DELETE' }, 1)).json()) as { purged: number };
    expect(purged.purged).toBeGreaterThanOrEqual(0);
    expect(((await (await stack.adminFetch('/cache/key:b')).json()) as { keys: string[] }).keys).toEqual([]);
    expect((await send(body, KEYS.b)).cache).toBe('miss');
  });
});

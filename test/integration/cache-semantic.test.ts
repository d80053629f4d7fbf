/**
 * The semantic cache behind real Envoy, three router replicas and a real Redis: the prompt's vector
 * comes from the `vectors` embeddings group through Envoy's own listener (the mock's hashing
 * embedding makes texts sharing words close), and a paraphrase above the threshold is answered from
 * the cache on either replica, with how similar it was. An unrelated prompt, the same prompt at
 * another temperature or in another group, and another key's prompt are not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { freePort } from '../../src/devstack/ports.js';
import { waitUntil } from '../../src/devstack/processes.js';
import type { UsageRecord } from '../../src/state/store.js';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { shippedEnvoy, startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;

const KEYS = { a: 'sk-sem-a-0001', b: 'sk-sem-b-0002', embedder: 'sk-sem-e-0003' };
const REPLICAS = 3;

beforeAll(async () => {
  redis = await startRedis();
  const listener = await freePort();
  const semantic = {
    embeddings: { url: `http://127.0.0.1:${listener}/v1/embeddings`, model: 'vectors', api_key_env: 'SEMANTIC_EMBEDDINGS_KEY', timeout_ms: 5000 },
    threshold: 0.85,
  };
  stack = await startStack({
    redisUrl: redis.url,
    routers: REPLICAS,
    gateway: shippedEnvoy(listener, await freePort()),
    routerEnv: { SEMANTIC_EMBEDDINGS_KEY: KEYS.embedder },
    groups: {
      smart: { cache: { semantic } },
      clever: { cache: { semantic } },
    },
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'a', key_sha256: hashKey(KEYS.a) },
        { name: 'b', key_sha256: hashKey(KEYS.b) },
        { name: 'embedder', key_sha256: hashKey(KEYS.embedder), models: ['vectors'] },
      ],
    },
    deployments: [
      { name: 'smart-1', group: 'smart' },
      { name: 'clever-1', group: 'clever' },
      { name: 'vectors-1', group: 'vectors', extra: { capabilities: ['embeddings'], provider_model: 'text-embedding-3-small', price: { input_per_million: 0.02, output_per_million: 0 } } },
    ],
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

/** A word no other test sends, so each test starts from an empty cache. */
const nonce = () => Math.random().toString(36).slice(2, 9);
const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'smart', messages: [{ role: 'user', content }], ...extra });

/** Answers stored so far: each points a vector at itself once in the store. */
let stored = 0;

async function send(body: unknown, key = KEYS.a): Promise<{ status: number; cache: string | null; similarity: string | null; requestId: string | null; text: string }> {
  const res = await postChat(stack.url, body, { authorization: `Bearer ${key}` });
  if (res.status === 200 && res.headers.get('x-llm-cache') === 'miss') stored++;
  return { status: res.status, cache: res.headers.get('x-llm-cache'), similarity: res.headers.get('x-llm-cache-similarity'), requestId: res.headers.get('x-request-id'), text: await res.text() };
}

/** A replica's /metrics sample, 0 when absent. */
async function metric(replica: number, sample: string): Promise<number> {
  const text = await (await stack.adminFetch('/metrics', {}, replica)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** Every replica has read the vector of every answer stored so far from the store's log. */
const indexed = () =>
  waitUntil(async () => {
    for (let i = 0; i < REPLICAS; i++) if ((await metric(i, 'llm_router_cache_semantic_entries')) < stored) return false;
    return true;
  }, 10_000, () => `replicas have not indexed ${stored} vectors`);

const smartChats = () => stack.mock('smart-1').stats().requests;

describe('semantic cache', () => {
  it('answers a paraphrase above the threshold from the cache, saying how similar it was; an unrelated prompt misses', async () => {
    const n = nonce();
    const first = await send(chat(`What is the capital city of France? ${n}`));
    expect(first).toMatchObject({ status: 200, cache: 'miss', similarity: null });
    await indexed();
    const calls = smartChats();

    const paraphrase = await send(chat(`what's the capital city of france ${n}`));
    expect(paraphrase).toMatchObject({ status: 200, cache: 'hit' });
    expect(Number(paraphrase.similarity)).toBeGreaterThanOrEqual(0.85);
    expect(Number(paraphrase.similarity)).toBeLessThan(1);
    expect(JSON.parse(paraphrase.text).choices).toEqual(JSON.parse(first.text).choices);
    expect(smartChats()).toBe(calls);

    let record: UsageRecord | undefined;
    await waitUntil(async () => (record = (await stack.usageLog()).find((r) => r.requestId === paraphrase.requestId)) !== undefined, 10_000, () => 'no usage record for the hit');
    expect(record).toMatchObject({ costNanos: 0, cache: { kind: 'semantic', result: 'hit' } });
    expect(record!.savedCostNanos).toBeGreaterThan(0);

    const unrelated = await send(chat(`How do I bake sourdough bread at home? ${nonce()}`));
    expect(unrelated).toMatchObject({ status: 200, cache: 'miss' });
    expect(smartChats()).toBe(calls + 1);
  });

  it('never answers the same prompt at another temperature, in another group or for another key', async () => {
    const n = nonce();
    const prompt = `Which river flows through the city of Paris? ${n}`;
    expect((await send(chat(prompt, { temperature: 0.2 }))).cache).toBe('miss');
    await indexed();
    const calls = smartChats();
    expect((await send(chat(`which river flows through the city of paris ${n}`, { temperature: 0.2 }))).cache).toBe('hit');
    expect(smartChats()).toBe(calls);

    expect((await send(chat(prompt, { temperature: 0.9 }))).cache).toBe('miss');
    expect((await send({ ...chat(prompt, { temperature: 0.2 }), model: 'clever' })).cache).toBe('miss');
    expect((await send(chat(prompt, { temperature: 0.2 }), KEYS.b)).cache).toBe('miss');
    expect(smartChats()).toBe(calls + 2);
  });

  it('shares stored answers between replicas: paraphrases hit on replicas that did not store the answer', async () => {
    const n = nonce();
    expect((await send(chat(`Explain how photosynthesis works in green plants ${n}`))).cache).toBe('miss');
    const sample = 'llm_router_cache_requests_total{group="smart",result="hit"}';
    const hits = () => Promise.all([...Array(REPLICAS).keys()].map((i) => metric(i, sample)));
    const before = await hits();
    await indexed();
    const calls = smartChats();
    // Each variant is its own exact key, so only the semantic index can answer it; Envoy spreads the
    // requests (and the embeddings requests they make) over the replicas.
    const variants = ['explain how photosynthesis works in green plants', 'Explain how photosynthesis works in green plants?', 'explain: how photosynthesis works in green plants!', 'Explain how photosynthesis works in the green plants', 'explain how photosynthesis works, in green plants', 'Explain how photosynthesis works in green plants.'];
    for (const v of variants) expect((await send(chat(`${v} ${n}`))).cache).toBe('hit');
    expect(smartChats()).toBe(calls);
    const after = await hits();
    const answering = after.filter((h, i) => h > before[i]!).length;
    expect(answering).toBeGreaterThanOrEqual(2);
  });

  it('forgets a purged namespace: the same paraphrase misses after the admin purge', async () => {
    const n = nonce();
    expect((await send(chat(`Name three primary colours of light ${n}`))).cache).toBe('miss');
    await indexed();
    expect((await send(chat(`name three primary colours of light ${n}`))).cache).toBe('hit');
    expect((await stack.adminFetch('/cache/key%3Aa', { method: 'DELETE' })).status).toBe(200);
    expect((await send(chat(`name the three primary colours of light ${n}`))).cache).toBe('miss');
  });
});

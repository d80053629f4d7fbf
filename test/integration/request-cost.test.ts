/**
 * What one request may cost the gateway, through real Envoy: the most expensive prompt to count
 * delays no other key's request; a deeply nested body is a 400 whether or not its body is rewritten;
 * `n` choices are reserved whole against a TPM limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

const KEYS = { heavy: 'sk-cost-heavy-01', light: 'sk-cost-light-02', tpm: 'sk-cost-tpm-03', burst: 'sk-cost-burst-04' };
const MAX_BODY_BYTES = 4 * 1024 * 1024; // the router's default limit
const TPM_LIMIT = 1000;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'heavy', key_sha256: hashKey(KEYS.heavy) },
        { name: 'light', key_sha256: hashKey(KEYS.light) },
        { name: 'tpm', key_sha256: hashKey(KEYS.tpm), tpm_limit: TPM_LIMIT },
        { name: 'burst', key_sha256: hashKey(KEYS.burst), tpm_limit: TPM_LIMIT },
      ],
    },
    // `auto` counts every prompt whose bytes reach its rule's threshold, and the small group's
    // window makes routing count it again: both read the one count.
    virtualModels: [{ name: 'auto', default_group: 'chat', rules: [{ name: 'long', group: 'small', when: { min_prompt_tokens: 2000 } }] }],
    deployments: [
      { name: 'chat-a', group: 'chat' }, // provider model `chat-provider`: its body is rewritten
      { name: 'plain-a', group: 'plain', providerModel: 'plain' }, // sent as the client wrote it
      { name: 'small-a', group: 'small', extra: { context_window: 4096 } },
      { name: 'slow-a', group: 'slow', behaviour: { latency_ms: 1000 } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const HI = [{ role: 'user', content: 'hi' }];

/** One request's status and how long it took, body read. */
async function timed(send: () => Promise<Response>): Promise<{ status: number; ms: number; startMs: number; endMs: number }> {
  const startMs = performance.now();
  const res = await send();
  await res.arrayBuffer();
  const endMs = performance.now();
  return { status: res.status, ms: endMs - startMs, startMs, endMs };
}

const lightRequest = () => postChat(stack.url, { model: 'chat', messages: HI }, as(KEYS.light), AbortSignal.timeout(10_000));
const healthz = () => fetch(`${stack.routerAdmin}/healthz`, { signal: AbortSignal.timeout(10_000) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The costliest prompt to count that fits the body limit: one run of random CJK characters, no
 * space anywhere (the tokenizer's pre-split leaves it whole; each character is 3 bytes of UTF-8).
 */
function costlyBody(bytes: number): Buffer {
  let seed = 7;
  const chars: string[] = [];
  for (let i = 0; i < Math.floor((bytes - 200) / 3); i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    chars.push(String.fromCharCode(0x4e00 + (seed % 0x5000)));
  }
  const body = Buffer.from(JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: chars.join('') }] }));
  expect(body.length).toBeLessThanOrEqual(bytes);
  return body;
}

describe('one request cannot stall the gateway', () => {
  it("while the costliest prompt is counted, another key's requests stay within 100 ms of their unloaded latency and /healthz answers", async () => {
    const body = costlyBody(MAX_BODY_BYTES);
    // Warm, as a router in service is: a smaller prompt of the same kind (the first one compiles the
    // tokenizer's merge code) and the light path.
    await (await postChat(stack.url, costlyBody(16 * 1024), as(KEYS.heavy))).arrayBuffer();
    await timed(lightRequest);
    const unloaded: number[] = [];
    const unloadedHealth: number[] = [];
    for (let i = 0; i < 15; i++) {
      unloaded.push((await timed(lightRequest)).ms);
      unloadedHealth.push((await timed(healthz)).ms);
    }
    const baselineMs = median(unloaded);
    const healthBaselineMs = median(unloadedHealth);

    let attackDone = false;
    const attack = timed(() => postChat(stack.url, body, as(KEYS.heavy), AbortSignal.timeout(120_000))).finally(() => (attackDone = true));
    const light: Array<Awaited<ReturnType<typeof timed>>> = [];
    const health: Array<Awaited<ReturnType<typeof timed>>> = [];
    const lightLoop = (async () => {
      while (!attackDone) light.push(await timed(lightRequest));
    })();
    const healthLoop = (async () => {
      while (!attackDone) health.push(await timed(healthz));
    })();
    const heavy = await attack;
    await Promise.all([lightLoop, healthLoop]);

    // The prompt is over the small group's window: refused after counting, not served.
    expect(heavy.status).toBe(400);
    process.stdout.write(
      `costliest prompt: ${heavy.ms.toFixed(0)} ms in flight; light requests unloaded median ${baselineMs.toFixed(1)} ms, during it ${light.map((r) => r.ms.toFixed(0)).join(' ')} ms; ` +
        `/healthz unloaded ${healthBaselineMs.toFixed(1)} ms, during it median ${median(health.map((r) => r.ms)).toFixed(1)} ms, max ${Math.max(...health.map((r) => r.ms)).toFixed(0)} ms\n`,
    );
    // On a shared machine any single request may wait on the scheduler for tens of ms, the router
    // or not: the typical request must stay within 100 ms of its unloaded latency, and none may
    // wait half of Envoy's 2 s message timeout (the old code held every one for minutes).
    const during = light.filter((r) => r.endMs <= heavy.endMs);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.every((r) => r.status === 200)).toBe(true);
    expect(median(during.map((r) => r.ms))).toBeLessThan(baselineMs + 100);
    expect(Math.max(...during.map((r) => r.ms))).toBeLessThan(1000);
    const healthDuring = health.filter((r) => r.endMs <= heavy.endMs);
    expect(healthDuring.length).toBeGreaterThanOrEqual(3);
    expect(healthDuring.every((r) => r.status === 200)).toBe(true);
    expect(median(healthDuring.map((r) => r.ms))).toBeLessThan(healthBaselineMs + 100);
    expect(Math.max(...healthDuring.map((r) => r.ms))).toBeLessThan(1000);
  }, 180_000);
});

describe('nesting', () => {
  const nested = (model: string) => `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;

  it.each([
    ['rewritten (model id, include_usage)', 'chat'],
    ['sent unchanged', 'plain'],
  ])('a body nested 100,000 levels deep for a deployment whose body is %s: 400 in OpenAI format', async (_, model) => {
    const res = await postChat(stack.url, nested(model), as(KEYS.light));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: 'The request body nests objects and arrays more than 128 levels deep.', type: 'invalid_request_error', param: null, code: 'invalid_request' },
    });
  });
});

describe('n choices', () => {
  it(`n × max_tokens over the key's TPM limit is refused (429) although one choice fits; n over 128 is a 400`, async () => {
    stack.resetMocks();
    const res = await postChat(stack.url, { model: 'chat', messages: HI, n: 8, max_tokens: 200 }, as(KEYS.tpm));
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(stack.mockRequests()).toBe(0);
    expect((await postChat(stack.url, { model: 'chat', messages: HI, max_tokens: 200 }, as(KEYS.tpm))).status).toBe(200);
    const tooMany = await postChat(stack.url, { model: 'chat', messages: HI, n: 129 }, as(KEYS.tpm));
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { param: string } }).error.param).toBe('n');
  });

  it('a burst of requests whose n × max_tokens fills the limit: all but one refused while the first is in flight', async () => {
    // 4 × 200 = 800 completion tokens each: two do not fit 1,000. Counted as one choice each, 200
    // tokens, all three would be admitted.
    const results = await Promise.all([0, 1, 2].map(() => postChat(stack.url, { model: 'slow', messages: HI, n: 4, max_tokens: 200 }, as(KEYS.burst))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 429, 429]);
  });
});

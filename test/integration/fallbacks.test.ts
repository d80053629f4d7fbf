/**
 * Resilience through real Envoy: fallback chains that Envoy carries out hop by hop (the router
 * names each next cluster and rewrites each hop), cooldowns from providers' 429 and Retry-After,
 * recovery, context-window and content-policy fallbacks, and streams cut short.
 */
import { readFile } from 'node:fs/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let client: OpenAI;

/** Each deployment: its provider model id and its credential, so every attempt can be checked. */
const DEPLOYMENTS = {
  'gpt4o-a': { group: 'gpt-4o', model: 'gpt-4o-2024-08-06', key: 'sk-gpt4o-a' },
  'gpt4o-b': { group: 'gpt-4o', model: 'gpt-4o-azure-eastus', key: 'sk-gpt4o-b' },
  'gpt4o-c': { group: 'gpt-4o', model: 'gpt-4o-azure-westus', key: 'sk-gpt4o-c' },
  claude: { group: 'claude-sonnet', model: 'claude-sonnet-4', key: 'sk-claude' },
  mini: { group: 'gpt-4o-mini', model: 'gpt-4o-mini-2024-07-18', key: 'sk-mini' },
  long: { group: 'gpt-4o-long', model: 'gpt-4.1', key: 'sk-long', extra: { context_window: 1_000_000 } },
  'lim-a': { group: 'limited', model: 'lim-a-model', key: 'sk-lim-a', weight: 1000 },
  'lim-b': { group: 'limited', model: 'lim-b-model', key: 'sk-lim-b', weight: 1 },
  'flaky-a': { group: 'flaky', model: 'flaky-model', key: 'sk-flaky' },
  steady: { group: 'steady', model: 'steady-model', key: 'sk-steady' },
  streamer: { group: 'streamer', model: 'streamer-model', key: 'sk-streamer', behaviour: { chunks: 60 } },
  solo: { group: 'solo', model: 'solo-model', key: 'sk-solo' },
  'hc-a': { group: 'checked', model: 'hc-model', key: 'sk-hc-a' },
  'hc-b': { group: 'checked', model: 'hc-model', key: 'sk-hc-b' },
} as const satisfies Record<string, { group: string; model: string; key: string; weight?: number; extra?: Record<string, unknown>; behaviour?: Record<string, unknown> }>;

type Name = keyof typeof DEPLOYMENTS;
const envName = (name: string) => `KEY_${name.replace(/-/g, '_').toUpperCase()}`;
/** A deployment's mock, by a name the table above declares. */
const mock = (name: Name) => stack.mock(name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  stack = await startStack({
    deployments: Object.entries(DEPLOYMENTS).map(([name, d]) => ({
      name,
      group: d.group,
      providerModel: d.model,
      apiKeyEnv: envName(name),
      ...('weight' in d ? { weight: d.weight } : {}),
      ...('extra' in d ? { extra: d.extra } : {}),
      ...('behaviour' in d ? { behaviour: d.behaviour } : {}),
    })),
    groups: {
      'gpt-4o': { fallbacks: ['claude-sonnet', 'gpt-4o-mini'], content_policy_fallbacks: ['claude-sonnet'], context_window_fallbacks: ['gpt-4o-long'] },
      flaky: { fallbacks: ['steady'] },
    },
    // A 429 without Retry-After, or 3 failures in a row, cool a deployment for 500 ms.
    routing: { cooldown_ms: 500, decision_header: true },
    routerEnv: Object.fromEntries(Object.entries(DEPLOYMENTS).map(([name, d]) => [envName(name), d.key])),
    streamIdleTimeout: '2s',
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** The router's log line for a request (its decision record), by request id. */
async function decisionOf(requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const lines = (await readFile(stack.router.logFile!, 'utf8')).split('\n');
    const line = lines.find((l) => l.includes(`"requestId":"${requestId}"`) && l.includes('"msg":"request"'));
    if (line !== undefined) return (JSON.parse(line) as { routing: Record<string, unknown> }).routing;
    await sleep(50);
  }
  throw new Error(`no log line for ${requestId}`);
}

const ask = (model: string, extra: Record<string, unknown> = {}) => postChat(stack.url, { model, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('content-policy and context-window fallbacks', () => {
  it('a content-filter refusal goes to the content-policy fallback, with the model id and credential of each deployment', async () => {
    stack.resetMocks();
    for (const n of ['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const) mock(n).setBehaviour({ status: 400, error_code: 'content_filter' });
    const res = await postChat(stack.url, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-router-debug': '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llm-router-decision')).toMatch(/; attempts=gpt4o-[abc]:400,gpt4o-[abc]:400,claude:200$/);
    expect(((await res.json()) as { model: string }).model).toBe('claude-sonnet-4');
    // The first deployment refused; the hop already named (another gpt-4o deployment) was tried
    // and refused too, and its attempt, knowing why, named the content-policy fallback.
    const refusals = (['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const).reduce((n, d) => n + (mock(d).stats().statuses['400'] ?? 0), 0);
    expect(refusals).toBe(2);
    expect(mock('claude').stats().statuses['200']).toBe(1);
    expect(mock('mini').stats().requests).toBe(0);
    const record = await stack.lastRecord();
    expect(record).toMatchObject({ deployment: 'claude', providerModel: 'claude-sonnet-4', status: 200, complete: true });
    const routing = await decisionOf(record.requestId);
    expect(routing.served).toBe('claude');
    expect((routing.attempts as Array<{ deployment: string; result: string }>).map((a) => a.result)).toEqual(['content_policy', 'content_policy', 'ok']);
  });

  it('disable_fallbacks returns the original error', async () => {
    stack.resetMocks();
    const res = await ask('gpt-4o', { disable_fallbacks: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('content_filter');
    expect(mock('claude').stats().requests).toBe(0);
    expect((['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const).reduce((n, d) => n + mock(d).stats().requests, 0)).toBe(1);
    expect(res.headers.get('x-llm-retry')).toBeNull();
  });

  it("a provider's context-length error goes to the context-window fallback", async () => {
    stack.resetMocks();
    for (const n of ['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const) mock(n).setBehaviour({ status: 400, error_code: 'context_length_exceeded' });
    const res = await ask('gpt-4o');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('gpt-4.1');
    expect((await stack.lastRecord()).deployment).toBe('long');
    for (const n of ['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const) mock(n).setBehaviour({ status: 200 });
  });

  it('a 150k-token prompt for a 128k group goes to the context-window fallback up front', async () => {
    stack.resetMocks();
    const res = await postChat(stack.url, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello '.repeat(150_000) }] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('gpt-4.1');
    expect(mock('long').stats().requests).toBe(1);
    for (const n of ['gpt4o-a', 'gpt4o-b', 'gpt4o-c'] as const) expect(mock(n).stats().requests).toBe(0);
    const routing = await decisionOf((await stack.lastRecord()).requestId);
    expect(routing).toMatchObject({ group: 'gpt-4o-long', served: 'long', fallback_from: { group: 'gpt-4o', reason: 'context_window' } });
  });
});

describe('cooldowns from provider signals', () => {
  it('429 with Retry-After: 2 keeps the deployment idle for 2 s; a later 429 without the header does not shorten it', async () => {
    stack.resetMocks();
    // In arrival order: a slow 429 without Retry-After, then a fast one with Retry-After: 2.
    mock('lim-a').enqueue([{ status: 429, latency_ms: 300 }, { status: 429, retry_after: '2' }]);
    const slow = ask('limited');
    await waitUntil(async () => mock('lim-a').stats().requests === 1, 10_000, () => 'the first request never reached lim-a');
    const fast = await ask('limited');
    expect(fast.status).toBe(200); // retried on lim-b at once
    expect((await slow).status).toBe(200);
    const coolingFrom = mock('lim-a').stats().last[1]!.atMs;
    // Steady traffic: lim-a (weight 1000 to 1) takes it again as soon as it may.
    const statuses: number[] = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const res = await ask('limited');
      statuses.push(res.status);
      await res.arrayBuffer();
      await sleep(20);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const after = mock('lim-a').stats().last.filter((r) => r.atMs > coolingFrom);
    // The no-header 429 (500 ms cooldown) arrived after the Retry-After one and did not shorten it;
    // and lim-a was back with the next request after the 2 s (one round trip under load, < 500 ms).
    expect(after[0]!.atMs - coolingFrom).toBeGreaterThanOrEqual(1800);
    expect(after[0]!.atMs - coolingFrom).toBeLessThanOrEqual(2500);
    expect(mock('lim-b').stats().requests).toBeGreaterThan(10);
    const metrics = await (await fetch(`${stack.routerAdmin}/metrics`)).text();
    expect(metrics).toMatch(/llm_router_cooldowns_total\{deployment="lim-a",cause="retry_after"\} 1/);
  });

  it('a deployment answering 503 for 30 s: every request succeeds through the fallback, and traffic returns within 5 s of recovery', async () => {
    stack.resetMocks();
    mock('flaky-a').setBehaviour({ status: 503 });
    const start = Date.now();
    let recoveredAt = 0;
    const failures: number[] = [];
    while (Date.now() - start < 36_000) {
      if (recoveredAt === 0 && Date.now() - start >= 30_000) {
        mock('flaky-a').setBehaviour({ status: 200 });
        recoveredAt = Date.now();
      }
      const res = await ask('flaky');
      if (res.status !== 200) failures.push(res.status);
      await res.arrayBuffer();
      await sleep(50);
    }
    expect(failures).toEqual([]);
    expect(mock('steady').stats().statuses['200']).toBeGreaterThan(100);
    const back = mock('flaky-a').stats().last.find((r) => r.atMs >= recoveredAt);
    expect(back).toBeDefined();
    expect(back!.atMs - recoveredAt).toBeLessThan(5000);
    // Envoy saw it too: the retries, and the ejection of the failing host.
    const stats = await stack.stats('^cluster\\.(flaky-a|steady)\\.(upstream_rq_retry|outlier_detection\\.ejections_enforced_total)$');
    expect(stats['cluster.steady.upstream_rq_retry']).toBeGreaterThan(0);
    expect(stats['cluster.flaky-a.outlier_detection.ejections_enforced_total']).toBeGreaterThan(0);
  }, 60_000);
});

describe('retries in one deployment, and health', () => {
  it("a 429 with no other deployment to go to is retried there after the provider's Retry-After", async () => {
    stack.resetMocks();
    mock('solo').enqueue([{ status: 429, retry_after: '1' }]);
    const started = Date.now();
    const res = await ask('solo');
    expect(res.status).toBe(200);
    // Envoy's rate-limited back-off: Retry-After × [1, 1.5).
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const [first, second] = mock('solo').stats().last;
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(950);
    const stats = await stack.stats('^cluster\\.solo\\.upstream_rq_retry_backoff_ratelimited$');
    expect(stats['cluster.solo.upstream_rq_retry_backoff_ratelimited']).toBe(1);
  });

  it("a deployment failing Envoy's health checks gets no traffic until it passes them again", async () => {
    stack.resetMocks();
    const sent = async (n: number) => {
      for (let i = 0; i < n; i++) expect((await ask('checked')).status).toBe(200);
    };
    mock('hc-a').setBehaviour({ health_status: 503 });
    // Two failed checks (every 2 s) mark it unhealthy; the router reads that within a second.
    const excludedCount = async () =>
      Number(/llm_router_excluded_total\{group="checked",deployment="hc-a",reason="unhealthy"\} (\d+)/.exec(await (await fetch(`${stack.routerAdmin}/metrics`)).text())?.[1] ?? 0);
    const deadline = Date.now() + 10_000;
    while ((await excludedCount()) === 0 && Date.now() < deadline) {
      await sent(1);
      await sleep(100);
    }
    expect(await excludedCount()).toBeGreaterThan(0);
    const before = mock('hc-a').stats().requests;
    await sent(30);
    expect(mock('hc-a').stats().requests).toBe(before);
    mock('hc-a').setBehaviour({ health_status: 200 });
    const recovered = Date.now();
    while (mock('hc-a').stats().requests === before && Date.now() - recovered < 8000) await sent(5);
    expect(mock('hc-a').stats().requests).toBeGreaterThan(before);
    expect(Date.now() - recovered).toBeLessThan(5000);
  }, 30_000);
});

describe('streams cut short', () => {
  it.each(['reset', 'close'] as const)('a stream cut (%s) after 40 chunks: the openai SDK raises, and the usage billed matches the chunks delivered', async (cut) => {
    // Tokens a few ms apart, as providers send them; the cut comes before the 41st.
    mock('streamer').setBehaviour({ cut_after_chunks: 40, cut_mode: cut, chunk_interval_ms: 5 });
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: 'streamer', stream: true, messages: [{ role: 'user', content: 'tell me a story' }] });
    let chunks = 0;
    const read = async () => {
      for await (const c of stream) if ((c.choices[0]?.delta.content ?? '') !== '') chunks++;
    };
    await expect(read()).rejects.toThrow();
    expect(chunks).toBe(40);
    let record = await stack.lastRecord();
    for (let i = 0; i < 50 && (record.deployment !== 'streamer' || record.stream !== true || record.timestampMs < started); i++) {
      await sleep(50);
      record = await stack.lastRecord();
    }
    expect(record).toMatchObject({ deployment: 'streamer', stream: true, complete: false, usageEstimated: true, completionTokens: chunks });
    expect(record.costNanos).toBeGreaterThan(0);
  });

  it('a malformed event: the client gets an error event after it, and the SDK raises', async () => {
    mock('streamer').setBehaviour({ cut_after_chunks: undefined, malformed_after_chunks: 10 });
    const raw = await (await postChat(stack.url, { model: 'streamer', stream: true, messages: [{ role: 'user', content: 'hi' }] })).text();
    expect(raw).toContain('data: <html>');
    expect(raw.trimEnd().endsWith('"code":"upstream_stream_malformed"}}')).toBe(true);
    expect(raw).not.toContain('[DONE]');
    const stream = await client.chat.completions.create({ model: 'streamer', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow();
    mock('streamer').setBehaviour({ malformed_after_chunks: undefined });
  });

  it('a stream that stalls past the idle timeout: the SDK raises instead of waiting forever', async () => {
    mock('streamer').setBehaviour({ cut_after_chunks: undefined, stall_after_chunks: 5 });
    const stream = await client.chat.completions.create({ model: 'streamer', stream: true, messages: [{ role: 'user', content: 'tell me a story' }] });
    const started = Date.now();
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(10_000);
    mock('streamer').setBehaviour({ stall_after_chunks: undefined });
  });
});

describe('connection failures', () => {
  it('one of three deployments refuses connections: 1,000 requests all succeed, and the mocks show where each went', async () => {
    stack.resetMocks();
    await mock('gpt4o-b').close();
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        next++;
        const res = await ask('gpt-4o');
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1000 });
    const served = (['gpt4o-a', 'gpt4o-c', 'claude', 'mini', 'long'] as const).map((n) => mock(n).stats().statuses['200'] ?? 0);
    expect(served.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(mock('gpt4o-b').stats().requests).toBe(0);
    const stats = await stack.stats('^cluster\\.gpt4o-b\\.upstream_cx_connect_fail$');
    expect(stats['cluster.gpt4o-b.upstream_cx_connect_fail']).toBeGreaterThan(0);
  }, 120_000);

  it('every attempt any provider saw carried the model id and credential of the deployment that received it', () => {
    let seen = 0;
    for (const [name, d] of Object.entries(DEPLOYMENTS)) {
      for (const r of mock(name as Name).stats().last) {
        expect(r.model).toBe(d.model);
        expect(r.authorization).toBe(`Bearer ${d.key}`);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(50);
  });
});

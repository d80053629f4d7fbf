/**
 * Routing policies through real Envoy with the shipped envoy.yaml and mock providers: latency-,
 * cost- and usage-based strategies, the `auto` virtual model, tag routing, and the decision record
 * (debug header, log line, Prometheus counters) for every request.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const VIRTUAL_AUTO = {
  name: 'auto',
  default_group: 'simple-qa',
  rules: [
    { name: 'multimodal', group: 'vision', when: { has_image: true } },
    { name: 'long-context', group: 'long-context', when: { min_prompt_tokens: 16000 } },
  ],
  semantic: {
    threshold: 0.2,
    routes: [
      { group: 'coding', examples: ['write a python function that parses a csv file', 'fix the bug in this javascript code', 'implement a binary search in rust', 'refactor this class and add unit tests'] },
      { group: 'creative', examples: ['write a poem about the sea', 'compose a short story about a dragon', 'write song lyrics about summer love', 'a haiku about autumn leaves'] },
      { group: 'analysis', examples: ['analyse the pros and cons of remote work', 'compare these two business strategies', 'evaluate the risks in this investment plan'] },
      { group: 'simple-qa', examples: ['what is the capital of france', 'who wrote hamlet', 'how many legs does a spider have', 'when did world war two end'] },
    ],
  },
};

const GROUPS = ['vision', 'long-context', 'coding', 'creative', 'analysis', 'simple-qa'];

beforeAll(async () => {
  stack = await startStack({
    routing: { decision_header: true, tiers: [{ name: 'premium', pools: ['high', 'normal'] }, { name: 'free', pools: ['normal'] }], default_tier: 'free' },
    groups: {
      fast: { strategy: 'latency-based' },
      cheap: { strategy: 'cost-based' },
      headroom: { strategy: 'usage-based' },
    },
    virtualModels: [VIRTUAL_AUTO],
    deployments: [
      { name: 'lat-20', group: 'fast', behaviour: { latency_ms: 20 } },
      { name: 'lat-100', group: 'fast', behaviour: { latency_ms: 100 } },
      { name: 'lat-300', group: 'fast', behaviour: { latency_ms: 300 } },
      { name: 'cheap-128k', group: 'cheap', extra: { price: { input_per_million: 0.1, output_per_million: 0.4 }, context_window: 128000 } },
      { name: 'pricey-1m', group: 'cheap', extra: { price: { input_per_million: 2, output_per_million: 8 }, context_window: 1000000 } },
      { name: 'tpm-small', group: 'headroom', extra: { tpm_limit: 300 } },
      { name: 'tpm-large', group: 'headroom', extra: { tpm_limit: 600 } },
      { name: 'tag-free', group: 'tagged', extra: { tags: ['free'] } },
      { name: 'tag-paid', group: 'tagged', extra: { tags: ['paid'] } },
      { name: 'tag-default', group: 'tagged', extra: { tags: ['default'] } },
      { name: 'pool-high', group: 'tiered', extra: { tier: 'high' } },
      { name: 'pool-normal', group: 'tiered', extra: { tier: 'normal' } },
      ...GROUPS.map((g) => ({ name: `auto-${g}`, group: g, extra: g === 'vision' ? { capabilities: ['chat', 'vision'] } : {} })),
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const ask = (content: unknown) => ({ messages: [{ role: 'user', content }] });

/** Sends one request and returns where it went, from the decision header. */
async function send(model: string, body: Record<string, unknown> = ask('hello'), headers: Record<string, string> = {}): Promise<{ status: number; decision: Record<string, string> }> {
  const res = await postChat(stack.url, { model, ...body }, { 'x-llm-router-debug': '1', ...headers });
  await res.arrayBuffer();
  const decision: Record<string, string> = {};
  for (const part of (res.headers.get('x-llm-router-decision') ?? '').split('; ')) {
    const eq = part.indexOf('=');
    if (eq > 0) decision[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { status: res.status, decision };
}

/** Runs `total` requests with `concurrency` in flight; returns each one's pick and when it ended. */
async function run(model: string, total: number, concurrency: number): Promise<Array<{ pick: string; endedMs: number }>> {
  const out: Array<{ pick: string; endedMs: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const { status, decision } = await send(model);
        expect(status).toBe(200);
        out.push({ pick: decision.pick!, endedMs: Date.now() });
      }
    }),
  );
  return out;
}

const share = (picks: ReadonlyArray<{ pick: string }>, name: string) => picks.filter((p) => p.pick === name).length / picks.length;

describe('latency-based', () => {
  it('sends ≥ 90% to the fastest after warm-up, and moves within 10 s when it slows down', async () => {
    await run('fast', 30, 4); // warm-up: every deployment gets measured
    const settled = await run('fast', 120, 4);
    expect(share(settled, 'lat-20')).toBeGreaterThanOrEqual(0.9);

    stack.mocks['lat-20']![0]!.setBehaviour({ latency_ms: 500 });
    const changedAt = Date.now();
    const after: Array<{ pick: string; endedMs: number }> = [];
    while (Date.now() - changedAt < 10_000) after.push(...(await run('fast', 8, 8)));
    const lastSecond = after.filter((p) => p.endedMs > changedAt + 9_000);
    expect(lastSecond.length).toBeGreaterThan(10);
    expect(share(lastSecond, 'lat-100')).toBeGreaterThanOrEqual(0.9);
    stack.mocks['lat-20']![0]!.setBehaviour({ latency_ms: 20 });
  }, 60_000);
});

describe('cost-based', () => {
  it('picks the cheapest deployment whose context window fits; a 150k-token prompt skips the 128k one', async () => {
    const small = await send('cheap');
    expect(small.decision.pick).toBe('cheap-128k');

    stack.resetMocks();
    const big = await send('cheap', ask('word '.repeat(150_000)));
    expect(big.status).toBe(200);
    expect(big.decision.pick).toBe('pricey-1m');
    expect(big.decision.excluded).toBe('cheap-128k:context_window');
    expect(stack.mocks['cheap-128k']![0]!.stats().requests).toBe(0);
    expect(stack.mocks['pricey-1m']![0]!.stats().requests).toBe(1);
  });
});

describe('usage-based', () => {
  it('shares by headroom and stops sending to a deployment once its TPM limit is reached in the window', async () => {
    stack.resetMocks();
    let refused: Response | null = null;
    for (let i = 0; i < 200 && refused === null; i++) {
      const res = await postChat(stack.url, { model: 'headroom', ...ask('count these tokens please') });
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const small = stack.mocks['tpm-small']![0]!.stats();
    const large = stack.mocks['tpm-large']![0]!.stats();
    const perRequest = (small.usage.totalTokens + large.usage.totalTokens) / (small.requests + large.requests);
    // Headroom is relative to each limit, so the 600-TPM deployment took about twice as many.
    expect(Math.abs(large.requests - 2 * small.requests)).toBeLessThanOrEqual(3);
    // Each was filled to within a request of its limit (two if the run crossed a minute and the
    // older minute began to fade), and no further.
    for (const [stats, limit] of [
      [small, 300],
      [large, 600],
    ] as const) {
      expect(stats.usage.totalTokens).toBeGreaterThan(limit - 2 * perRequest);
      expect(stats.usage.totalTokens).toBeLessThanOrEqual(limit + 2 * perRequest);
    }
    expect(refused).not.toBeNull();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
    const after = await send('headroom', ask('count these tokens please'));
    expect(after.status).toBe(429);
    expect(after.decision.excluded).toBe('tpm-small:rate_limit,tpm-large:rate_limit');
    expect(stack.mocks['tpm-small']![0]!.stats().requests + stack.mocks['tpm-large']![0]!.stats().requests).toBe(small.requests + large.requests);
  });
});

describe('auto (virtual model)', () => {
  it.each([
    ['a code-writing prompt', ask('Write a Python function that merges two sorted lists and add unit tests'), 'coding', 'semantic'],
    ['a prompt with an image part', ask([{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }]), 'vision', 'rule'],
    ['a 20k-token document question', ask(`Here is a report:\n${'The quarterly revenue grew in every region. '.repeat(2500)}\nWhat was the trend?`), 'long-context', 'rule'],
    ['a short factual question', ask('What is the capital of Japan?'), 'simple-qa', 'semantic'],
    ['a poem request', ask('Write a short poem about the moon over the ocean'), 'creative', 'semantic'],
  ])('%s reaches the expected group', async (_name, body, group, by) => {
    stack.resetMocks();
    const { status, decision } = await send('auto', body);
    expect(status).toBe(200);
    expect(decision.group).toBe(group);
    expect(decision.class).toMatch(new RegExp(`^auto:${by}:${group}`));
    expect(stack.mocks[`auto-${group}`]![0]!.stats().requests).toBe(1);
  });
});

describe('tags', () => {
  it('free traffic never reaches a paid deployment and vice versa; untagged traffic uses default', async () => {
    stack.resetMocks();
    for (let i = 0; i < 10; i++) {
      expect((await send('tagged', { ...ask('hi'), tags: ['free'] })).decision.pick).toBe('tag-free');
      expect((await send('tagged', ask('hi'), { 'x-llm-tags': 'paid' })).decision.pick).toBe('tag-paid');
      expect((await send('tagged', { ...ask('hi'), metadata: { tags: ['paid'] } })).decision.pick).toBe('tag-paid');
      expect((await send('tagged')).decision.pick).toBe('tag-default');
    }
    expect(stack.mocks['tag-free']![0]!.stats().requests).toBe(10);
    expect(stack.mocks['tag-paid']![0]!.stats().requests).toBe(20);
    expect(stack.mocks['tag-default']![0]!.stats().requests).toBe(10);
    const none = await send('tagged', { ...ask('hi'), tags: ['gold'] });
    expect(none.status).toBe(503);
  });
});

describe('tiers', () => {
  it('premium traffic uses the high pool and falls back to normal; free traffic never reaches high', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await send('tiered', ask('hi'), { 'x-llm-tier': 'premium' })).decision.pick).toBe('pool-high');
      expect((await send('tiered', ask('hi'), { 'x-llm-tier': 'free' })).decision).toMatchObject({ pick: 'pool-normal', excluded: 'pool-high:tier' });
      expect((await send('tiered')).decision.pick).toBe('pool-normal'); // default_tier: free
    }
    // The high pool cools down after a 503: premium falls back to normal rather than fail.
    const failed = await send('tiered', ask('hi'), { 'x-llm-tier': 'premium', 'x-mock-status': '503' });
    expect(failed.status).toBe(503);
    const fallback = await send('tiered', ask('hi'), { 'x-llm-tier': 'premium' });
    expect(fallback.decision).toMatchObject({ pick: 'pool-normal', excluded: 'pool-high:cooldown' });
  });
});

describe('decision record', () => {
  it('every request is logged with the strategy, the candidates and why each excluded deployment was excluded', async () => {
    const lines = (await readFile(stack.router.logFile!, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { routing?: { strategy: string; candidates?: string[]; excluded: Array<{ deployment: string; reason: string; detail: string }> }; status: number });
    expect(lines.length).toBeGreaterThan(300);
    for (const line of lines) {
      expect(line.routing?.strategy).toMatch(/^(latency-based|cost-based|usage-based|weighted-random)$/);
      for (const e of line.routing!.excluded) expect(e.reason).toMatch(/^(capability|context_window|tags|cooldown|budget|rate_limit|tier)$/);
      if (line.status === 200) expect(line.routing!.candidates!.length).toBeGreaterThan(0);
    }
    const contextLine = lines.find((l) => l.routing?.excluded.some((e) => e.reason === 'context_window'));
    expect(contextLine?.routing?.excluded[0]).toMatchObject({ deployment: 'cheap-128k', reason: 'context_window', detail: expect.stringMatching(/^needs \d+ tokens, window 128000$/) });

    const metrics = await (await fetch(`${stack.routerAdmin}/metrics`)).text();
    expect(metrics).toContain('llm_router_excluded_total{group="cheap",deployment="cheap-128k",reason="context_window"} 1');
    expect(metrics).toMatch(/llm_router_excluded_total\{group="tagged",deployment="tag-paid",reason="tags"\} \d+/);
    expect(metrics).toMatch(/llm_router_classified_total\{virtual_model="auto",group="coding",by="semantic"\} 1/);
    expect(metrics).toContain('llm_router_unroutable_total{group="tagged"} 1');
  });

  it('leaves no request counted in flight', async () => {
    const load = (await (await stack.adminFetch('/load')).json()) as { data: Record<string, { inFlight: number }> };
    for (const [name, l] of Object.entries(load.data)) expect([name, l.inFlight]).toEqual([name, 0]);
  });
});

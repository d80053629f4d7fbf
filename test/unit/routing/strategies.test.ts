/** Every strategy and filter with a pinned clock and scripted randomness. */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { keyFromRecord } from '../../../src/auth/keys.js';
import { Router } from '../../../src/routing/choose.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { loadTokenizer } from '../../../src/routing/tokens.js';
import { earliestRecovery } from '../../../src/routing/filters.js';
import { IDLE, type Decision, type LoadView } from '../../../src/routing/types.js';
import { counted, fixedEnv } from '../../support/fixtures.js';


// The router loads it before the first request that needs a count; these tests count every prompt.
beforeAll(loadTokenizer);
const dep = (name: string, group: string, extra = '') => `
  - {name: ${name}, provider: openai, model_group: ${group}, provider_model: m, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000${extra}}`;

const YAML = `
routing:
  tiers:
    - {name: premium, pools: [high, normal]}
    - {name: free, pools: [normal]}
model_groups:
  - {name: wr}
  - {name: wr-rpm}
  - {name: busy, strategy: least-busy}
  - {name: fast, strategy: latency-based, latency_tolerance: 0.2}
  - {name: cheap, strategy: cost-based}
  - {name: headroom, strategy: usage-based}
  - {name: best, strategy: balanced}
  - {name: tagged}
  - {name: tiered}
deployments:${dep('wr-a', 'wr', ', weight: 3')}${dep('wr-b', 'wr', ', weight: 1')}${dep('rpm-a', 'wr-rpm', ', rpm_limit: 100')}${dep('rpm-b', 'wr-rpm', ', rpm_limit: 300')}${dep('busy-a', 'busy')}${dep('busy-b', 'busy')}${dep('busy-c', 'busy')}${dep('fast-a', 'fast')}${dep('fast-b', 'fast')}${dep('fast-c', 'fast')}
  - {name: cheap-small, provider: openai, model_group: cheap, provider_model: m, price: {input_per_million: 0.1, output_per_million: 0.4}, context_window: 128000}
  - {name: cheap-big, provider: openai, model_group: cheap, provider_model: m, price: {input_per_million: 1, output_per_million: 4}, context_window: 1000000}
  - {name: cheap-vision, provider: openai, model_group: cheap, provider_model: m, price: {input_per_million: 2, output_per_million: 8}, context_window: 128000, capabilities: [chat, vision]}${dep('head-a', 'headroom', ', tpm_limit: 10000, rpm_limit: 100')}${dep('head-b', 'headroom', ', tpm_limit: 10000')}
  - {name: best-cheap, provider: openai, model_group: best, provider_model: m, price: {input_per_million: 0.1, output_per_million: 0.4}, context_window: 128000, quality: 0.5}
  - {name: best-good, provider: openai, model_group: best, provider_model: m, price: {input_per_million: 5, output_per_million: 20}, context_window: 128000, quality: 1}${dep('tag-free', 'tagged', ', tags: [free]')}${dep('tag-paid', 'tagged', ', tags: [paid]')}${dep('tag-default', 'tagged', ', tags: [default]')}${dep('tier-high', 'tiered', ', tier: high')}${dep('tier-normal', 'tiered', ', tier: normal')}
`;

const config = parseConfig(YAML, 'router.yaml', {});
const router = new Router(config);

function request(model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return counted(routeRequestOf({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra }, headers, config.routing));
}

interface DecideOptions {
  loads?: Partial<LoadView>[];
  randoms?: number[];
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
  budget?: string[];
}

function decide(model: string, opts: DecideOptions = {}): Decision {
  const req = request(model, opts.extra, opts.headers);
  const target = router.resolve(req)!;
  const loads = opts.loads?.map((l) => ({ ...IDLE, ...l })) ?? null;
  return router.choose(req, target, () => loads, fixedEnv(opts.randoms ?? [0.5]), { budgetSpent: new Set(opts.budget ?? []), unhealthy: new Map() });
}

const pick = (d: Decision) => (d.outcome === 'routed' ? d.primary.name : d.outcome);
const order = (d: Decision) => (d.outcome === 'routed' ? [d.primary.name, ...d.fallbacks.map((f) => f.name)] : []);
const excluded = (d: Decision) => (d.outcome === 'unknown_model' ? [] : d.excluded);

describe('weighted-random', () => {
  it.each([
    [0, 'wr-a'],
    [0.74, 'wr-a'],
    [0.75, 'wr-b'],
    [0.999, 'wr-b'],
  ])('random %f → %s (weights 3:1)', (r, name) => {
    expect(pick(decide('wr', { randoms: [r] }))).toBe(name);
  });

  it('weighs by RPM limit when no deployment sets a weight', () => {
    expect(pick(decide('wr-rpm', { randoms: [0.24] }))).toBe('rpm-a');
    expect(pick(decide('wr-rpm', { randoms: [0.26] }))).toBe('rpm-b');
  });
});

describe('least-busy', () => {
  it('picks the fewest in flight and orders the rest by load', () => {
    expect(order(decide('busy', { loads: [{ inFlight: 5 }, { inFlight: 1 }, { inFlight: 3 }] }))).toEqual(['busy-b', 'busy-c', 'busy-a']);
  });

  it('breaks ties at random', () => {
    const loads = [{ inFlight: 2 }, { inFlight: 0 }, { inFlight: 0 }];
    expect(pick(decide('busy', { loads, randoms: [0.5, 0.1, 0.9] }))).toBe('busy-b');
    expect(pick(decide('busy', { loads, randoms: [0.5, 0.9, 0.1] }))).toBe('busy-c');
  });
});

describe('latency-based', () => {
  it('sends to the fastest, by total latency for JSON and by time to first token for streams', () => {
    const loads = [
      { latencyMs: 300, ttftMs: 20 },
      { latencyMs: 20, ttftMs: 200 },
      { latencyMs: 100, ttftMs: 100 },
    ];
    expect(order(decide('fast', { loads }))).toEqual(['fast-b', 'fast-c', 'fast-a']);
    expect(pick(decide('fast', { loads, extra: { stream: true } }))).toBe('fast-a');
  });

  it('shares traffic inside the tolerance band and tries an unmeasured deployment', () => {
    const loads = [{ latencyMs: 100 }, { latencyMs: 115 }, { latencyMs: 300 }];
    expect(pick(decide('fast', { loads, randoms: [0.1, 0.9, 0.5] }))).toBe('fast-a');
    expect(pick(decide('fast', { loads, randoms: [0.9, 0.1, 0.5] }))).toBe('fast-b');
    expect(pick(decide('fast', { loads: [{ latencyMs: 100 }, { latencyMs: 300 }, {}], randoms: [0.9, 0.9, 0.1] }))).toBe('fast-c');
  });
});

describe('cost-based', () => {
  it('picks the cheapest deployment that can take the request', () => {
    expect(order(decide('cheap'))).toEqual(['cheap-small', 'cheap-big', 'cheap-vision']);
    const image = { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:,' } }] }] };
    const d = decide('cheap', { extra: image });
    expect(pick(d)).toBe('cheap-vision');
    expect(excluded(d).map((e) => [e.deployment, e.reason])).toEqual([
      ['cheap-small', 'capability'],
      ['cheap-big', 'capability'],
    ]);
  });

  it('skips deployments whose context window the prompt does not fit (counted tokens + max_tokens)', () => {
    const long = { messages: [{ role: 'user', content: 'word '.repeat(150_000) }], max_tokens: 1000 };
    const d = decide('cheap', { extra: long });
    expect(pick(d)).toBe('cheap-big');
    expect(excluded(d).map((e) => [e.deployment, e.reason])).toEqual([
      ['cheap-small', 'context_window'],
      ['cheap-vision', 'context_window'],
    ]);
    expect(excluded(d)[0]!.detail).toMatch(/^needs 15\d{4} tokens, window 128000$/);
  });
});

describe('usage-based', () => {
  it('prefers headroom and stops at a spent TPM or RPM limit', () => {
    expect(pick(decide('headroom', { loads: [{ tokensInWindow: 1000 }, { tokensInWindow: 5000 }] }))).toBe('head-a');
    const full = decide('headroom', { loads: [{ tokensInWindow: 10_000 }, { tokensInWindow: 9000 }] });
    expect(pick(full)).toBe('head-b');
    // Free again, at the earliest, when the current fixed minute ends.
    const minuteEnd = Math.ceil((fixedEnv().now() + 1) / 60_000) * 60_000;
    expect(excluded(full)).toEqual([{ deployment: 'head-a', reason: 'rate_limit', detail: 'tpm 10000/10000', untilMs: minuteEnd }]);
    expect(pick(decide('headroom', { loads: [{ requestsInWindow: 100 }, { tokensInWindow: 9999 }] }))).toBe('no_candidates');
  });
});

describe('provider limits (x-ratelimit-* headers)', () => {
  const now = fixedEnv().now();
  const report = (remaining: number, limit = 10_000) => ({ requests: null, tokens: { limit, remaining, resetAtMs: now + 20_000 } });

  it('usage-based prefers the deployment the provider reports more headroom for', () => {
    expect(pick(decide('headroom', { loads: [{ provider: report(1000) }, { provider: report(8000) }] }))).toBe('head-b');
  });

  it('skips a deployment whose provider reports too few tokens or no requests left, until its reset', () => {
    const d = decide('headroom', { loads: [{ provider: report(3) }, {}] });
    expect(pick(d)).toBe('head-b');
    expect(excluded(d)).toEqual([{ deployment: 'head-a', reason: 'rate_limit', detail: 'provider reports 3/10000 tokens left', untilMs: now + 20_000 }]);
    const noRequests = { requests: { limit: 60, remaining: 0, resetAtMs: now + 900 }, tokens: null };
    expect(excluded(decide('busy', { loads: [{ provider: noRequests }, {}, {}] }))[0]).toMatchObject({ reason: 'rate_limit', untilMs: now + 900 });
  });
});

describe('balanced', () => {
  it('weighs quality, cost and latency by preset, and a request may pick its own', () => {
    expect(pick(decide('best', { loads: [{ latencyMs: 100 }, { latencyMs: 100 }] }))).toBe('best-cheap');
    expect(pick(decide('best', { loads: [{}, {}], headers: { 'x-llm-route-preference': 'quality-first' } }))).toBe('best-good');
    expect(pick(decide('best', { loads: [{}, {}], extra: { metadata: { route_preference: 'cost-first' } } }))).toBe('best-cheap');
  });
});

describe('filters', () => {
  it('tags: tagged traffic only reaches deployments with its tags; untagged uses default', () => {
    expect(pick(decide('tagged', { extra: { tags: ['free'] } }))).toBe('tag-free');
    expect(pick(decide('tagged', { extra: { metadata: { tags: ['paid'] } } }))).toBe('tag-paid');
    expect(pick(decide('tagged', { headers: { 'x-llm-tags': 'paid' } }))).toBe('tag-paid');
    expect(pick(decide('tagged'))).toBe('tag-default');
    expect(pick(decide('tagged', { extra: { tags: ['gold'] } }))).toBe('no_candidates');
  });

  it('tiers: premium uses the high pool and falls back to normal; free never reaches high', () => {
    expect(pick(decide('tiered', { headers: { 'x-llm-tier': 'premium' } }))).toBe('tier-high');
    expect(pick(decide('tiered', { headers: { 'x-llm-tier': 'premium' }, budget: ['tier-high'] }))).toBe('tier-normal');
    const free = decide('tiered', { headers: { 'x-llm-tier': 'free' } });
    expect(pick(free)).toBe('tier-normal');
    expect(excluded(free)).toEqual([{ deployment: 'tier-high', reason: 'tier', detail: 'tier free uses pool normal' }]);
  });

  it('cooldown and budget remove deployments with their reason', () => {
    const now = fixedEnv().now();
    const d = decide('busy', { loads: [{ coolingUntilMs: now + 1500 }, {}, {}], budget: ['busy-b'] });
    expect(pick(d)).toBe('busy-c');
    expect(excluded(d)).toEqual([
      { deployment: 'busy-a', reason: 'cooldown', detail: 'cooling for 1500 ms', untilMs: now + 1500 },
      { deployment: 'busy-b', reason: 'budget', detail: 'budget spent' },
    ]);
  });
});

describe('earliestRecovery', () => {
  it('is the soonest deadline when every exclusion passes with time, else null', () => {
    const now = fixedEnv().now();
    const waiting = decide('busy', { loads: [{ coolingUntilMs: now + 3000 }, { coolingUntilMs: now + 1000 }, { coolingUntilMs: now + 2000 }] });
    expect(earliestRecovery(excluded(waiting))).toBe(now + 1000);
    const mixed = decide('busy', { loads: [{ coolingUntilMs: now + 3000 }, {}, {}], budget: ['busy-b', 'busy-c'] });
    expect(earliestRecovery(excluded(mixed))).toBeNull();
  });
});

describe('resolve', () => {
  it('reports an unknown model as null', () => {
    expect(router.resolve(request('gpt-9'))).toBeNull();
  });
});

describe('per-request preference within what the key allows', () => {
  const caller = (preferences: ReadonlySet<'balanced' | 'cost-first' | 'quality-first'> | null) => ({ ...keyFromRecord({ name: 'k', hash: '' }), preferences });
  const asked = { 'x-llm-route-preference': 'quality-first' };

  it('applies a preset the key allows, and ignores one it does not', () => {
    const body = { model: 'best', messages: [{ role: 'user', content: 'hi' }] };
    const allowedPick = routeRequestOf(body, asked, config.routing, caller(new Set(['quality-first'])));
    const refusedPick = routeRequestOf(body, asked, config.routing, caller(new Set(['cost-first'])));
    expect(allowedPick.preference).toBe('quality-first');
    expect(refusedPick.preference).toBeNull();
    expect(routeRequestOf(body, asked, config.routing, caller(null)).preference).toBe('quality-first');
    const pickOf = (req: ReturnType<typeof routeRequestOf>) => pick(router.choose(req, router.resolve(req)!, () => [IDLE, IDLE], fixedEnv()));
    expect(pickOf(allowedPick)).toBe('best-good');
    expect(pickOf(refusedPick)).toBe('best-cheap');
  });
});

/** What a request is charged against, when a refused one may come back, and how reservations settle. */
import { describe, expect, it } from 'vitest';
import { formatUsd, plannedCharges, retryAtMs, servedElsewhere, settlements } from '../../../src/admission/charges.js';
import { shedding } from '../../../src/admission/shedding.js';
import { position } from '../../../src/admission/windows.js';
import { hashKey } from '../../../src/auth/keys.js';
import { parseConfig } from '../../../src/config/load.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { completionTokens } from '../../../src/routing/filters.js';
import { IDLE } from '../../../src/routing/types.js';

const config = parseConfig(
  `
keys:
  - {name: k, key_sha256: ${hashKey('sk-k')}, team: t, rpm_limit: 60, tpm_limit: 1000, budgets: [{usd: 5, window: 1d}, {usd: 100, window: month}]}
  - {name: bare, key_sha256: ${hashKey('sk-bare')}}
teams: [{name: t, tpm_limit: 5000}]
tier_limits: [{tier: free, tpm_limit: 9000}]
tag_budgets: [{tag: research, usd: 2, window: 7d}]
admission: {default_max_tokens: 500}
model_groups: [{name: g, rpm_limit: 1000}]
deployments:
  - {name: d, provider: openai, model_group: g, provider_model: m, price: {input_per_million: 2, output_per_million: 8}, context_window: 128000}
  - {name: hop, provider: azure-openai, model_group: g, provider_model: m, price: {input_per_million: 2, output_per_million: 8}, context_window: 128000}
provider_budgets: [{provider: openai, usd: 50, window: 30d}, {provider: azure-openai, usd: 20, window: 1d}]
`,
  'router.yaml',
  {},
);
const key = config.keys.get(hashKey('sk-k'))!;
const deployment = config.deployments.get('d')!;
const NOW = Date.UTC(2026, 10, 22, 12, 0, 30);
/** The completion tokens a chat request with these fields may produce, as the pipeline reserves them. */
const completion = (fields: Record<string, unknown>) =>
  completionTokens(routeRequestOf({ model: 'g', messages: [{ role: 'user', content: 'hi' }], ...fields }, {}, config.routing), config.defaultMaxTokens);

describe('plannedCharges', () => {
  it("charges the key's, team's, tags', group's, tier's and provider's limits: requests, tokens (prompt + max_tokens or the default) and worst-case cost", () => {
    const charges = plannedCharges({ key, tags: ['research', 'other'], promptTokens: 100, completionTokens: completion({}), deployment, tier: 'free', nowMs: NOW }, config);
    const cost = 100 * 2000 + 500 * 8000;
    expect(charges.map((c) => [c.meter, c.kind, c.limit, c.amount])).toEqual([
      ['key:k:rpm', 'requests', 60, 1],
      ['key:k:tpm', 'tokens', 1000, 600],
      ['key:k:usd:1d', 'cost', 5e9, cost],
      ['key:k:usd:month', 'cost', 100e9, cost],
      ['team:t:tpm', 'tokens', 5000, 600],
      ['tag:research:usd:7d', 'cost', 2e9, cost],
      ['group:g:rpm', 'requests', 1000, 1],
      ['tier:free:tpm', 'tokens', 9000, 600],
      ['provider:openai:usd:30d', 'cost', 50e9, cost],
    ]);
    expect(charges[3]!.bucket).toBe(2026 * 12 + 10);
  });

  it('reserves every choice: n × max_tokens (or n × the default) in tokens and worst-case cost', () => {
    expect([completion({ n: 4, max_tokens: 100 }), completion({ n: 3 }), completion({ n: 2, max_completion_tokens: 7, max_tokens: 99 }), completion({ max_tokens: 9 })]).toEqual([400, 1500, 14, 9]);
    const charges = plannedCharges({ key, tags: [], promptTokens: 100, completionTokens: completion({ n: 4, max_tokens: 300 }), deployment, tier: null, nowMs: NOW }, config);
    const tpm = charges.find((c) => c.meter === 'key:k:tpm')!;
    // 100 + 4 × 300 = 1,300 tokens: over the key's 1,000 TPM although one choice (400) is not.
    expect(tpm.amount).toBe(1300);
    expect(tpm.amount).toBeGreaterThan(tpm.limit);
    expect(charges.find((c) => c.meter === 'key:k:usd:1d')!.amount).toBe(100 * 2000 + 1200 * 8000);
  });

  it('charges a key without limits only what the group and provider carry; without a key too', () => {
    const bare = plannedCharges({ key: config.keys.get(hashKey('sk-bare'))!, tags: [], promptTokens: 1, completionTokens: 1, deployment, tier: null, nowMs: NOW }, config);
    expect(bare.map((c) => c.meter)).toEqual(['group:g:rpm', 'provider:openai:usd:30d']);
    expect(plannedCharges({ key: null, tags: ['research'], promptTokens: 1, completionTokens: 1, deployment, tier: null, nowMs: NOW }, config).map((c) => c.meter)).toEqual([
      'group:g:rpm',
      'provider:openai:usd:30d',
    ]);
  });
});

describe('retryAtMs', () => {
  it('is when enough of the window has moved out for the request to fit', () => {
    const [rpm] = plannedCharges({ key, tags: [], promptTokens: 1, completionTokens: 1, deployment, tier: null, nowMs: NOW }, config);
    const b = position('1m', NOW).bucket;
    // 60 used: 30 in the bucket 20 s ago, 30 now; one more fits once the older bucket has left.
    expect(retryAtMs(rpm!, 60, [[b - 20, 30], [b, 30]])).toBe((b - 20 + 60) * 1000);
  });

  it('is the start of the next period for a calendar window', () => {
    const month = plannedCharges({ key, tags: [], promptTokens: 1, completionTokens: 1, deployment, tier: null, nowMs: NOW }, config)[3]!;
    expect(retryAtMs(month, 100e9, [[month.bucket, 100e9]])).toBe(Date.UTC(2026, 11, 1));
  });
});

describe('settlements', () => {
  it('replace reserved tokens and cost with the real ones; requests stay counted', () => {
    const charges = plannedCharges({ key, tags: [], promptTokens: 100, completionTokens: 50, deployment, tier: null, nowMs: NOW }, config);
    expect(settlements(charges, { tokens: 120, costNanos: 7 }).map((s) => [s.meter, s.delta])).toEqual([
      ['key:k:rpm', 0],
      ['key:k:tpm', 120 - 150],
      ['key:k:usd:1d', 7 - (100 * 2000 + 50 * 8000)],
      ['key:k:usd:month', 7 - (100 * 2000 + 50 * 8000)],
      ['team:t:tpm', 120 - 150],
      ['group:g:rpm', 0],
      ['provider:openai:usd:30d', 7 - (100 * 2000 + 50 * 8000)],
    ]);
  });
});

describe('servedElsewhere', () => {
  it("a fallback hop in another provider answered: the chosen provider's budget gets its reservation back, the hop's pays", () => {
    const charges = plannedCharges({ key: null, tags: [], promptTokens: 100, completionTokens: 50, deployment, tier: null, nowMs: NOW }, config);
    const moved = servedElsewhere(charges, settlements(charges, { tokens: 120, costNanos: 7 }), config.deployments.get('hop')!, 7, NOW, config);
    expect(moved.map((s) => [s.meter, s.delta, s.reserved ?? true])).toEqual([
      ['group:g:rpm', 0, true],
      ['provider:openai:usd:30d', -(100 * 2000 + 50 * 8000), true],
      ['provider:azure-openai:usd:1d', 7, false],
    ]);
  });
});

it('formatUsd', () => {
  expect([formatUsd(8_198_000), formatUsd(1e7), formatUsd(5e9), formatUsd(0)]).toEqual(['$0.008198', '$0.01', '$5', '$0']);
});

describe('shedding', () => {
  const shedConfig = parseConfig(
    `
shedding: [{tier: free, max_in_flight: 10}, {tier: trial, max_in_flight: 4, degrade_to: small}]
model_groups: [{name: big}, {name: small}]
deployments:
  - {name: b1, provider: openai, model_group: big, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 1000}
  - {name: s1, provider: openai, model_group: small, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 1000}
`,
    'router.yaml',
    {},
  );
  const loads = (...inFlight: number[]) => inFlight.map((n) => ({ ...IDLE, inFlight: n }));

  it('sheds a tier once the group holds its threshold in flight; other tiers never', () => {
    expect(shedding(shedConfig, 'free', 'big', loads(4, 5))).toBeNull();
    expect(shedding(shedConfig, 'free', 'big', loads(4, 6))).toEqual({ inFlight: 10, limit: 10, degradeTo: null });
    expect(shedding(shedConfig, 'premium', 'big', loads(400))).toBeNull();
    expect(shedding(shedConfig, null, 'big', loads(400))).toBeNull();
    expect(shedding(shedConfig, 'free', 'big', null)).toBeNull(); // no load known: nothing to shed on
  });

  it('degrades to the configured group, but not to the group it is already in', () => {
    expect(shedding(shedConfig, 'trial', 'big', loads(4))).toEqual({ inFlight: 4, limit: 4, degradeTo: 'small' });
    expect(shedding(shedConfig, 'trial', 'small', loads(4))).toEqual({ inFlight: 4, limit: 4, degradeTo: null });
  });
});

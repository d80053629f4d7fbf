/** Fallback plans, cooldown rules and provider signals: the pure parts of resilience. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { fallbackReasonOf } from '../../../src/providers/openai/errors.js';
import { retryAtMs } from '../../../src/providers/retry-after.js';
import { Router } from '../../../src/routing/choose.js';
import { attemptResult, cooldownAfter, FailureWindow } from '../../../src/routing/cooldown.js';
import { NO_CLUSTER, NOT_SERVING, unhealthyDeployments } from '../../../src/routing/envoy-health.js';
import { earliestRecovery } from '../../../src/routing/filters.js';
import { formatPlan, nextHop, parsePlan, plannedHops, type Plan } from '../../../src/routing/plan.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { IDLE, type Decision, type LoadView } from '../../../src/routing/types.js';
import { fixedEnv } from '../../support/fixtures.js';

const d = (name: string, group: string, window = 128000) =>
  `  - {name: ${name}, provider: openai, model_group: ${group}, provider_model: ${name}-model, price: {input_per_million: 1, output_per_million: 2}, context_window: ${window}}`;
const YAML = `
model_groups:
  - {name: gpt-4o, fallbacks: [claude, mini], content_policy_fallbacks: [claude], context_window_fallbacks: [long]}
  - {name: claude}
  - {name: mini}
  - {name: long}
  - {name: plain, fallbacks: [mini, bigger]}
  - {name: bigger}
deployments:
${d('gpt4o-a', 'gpt-4o')}
${d('gpt4o-b', 'gpt-4o')}
${d('claude-a', 'claude')}
${d('mini-a', 'mini')}
${d('long-a', 'long', 1_000_000)}
${d('plain-a', 'plain')}
${d('bigger-a', 'bigger', 500_000)}
`;
const config = parseConfig(YAML, 'router.yaml', {});
const router = new Router(config);
const env = fixedEnv([0.1]);
const request = (model: string, content = 'hello') => routeRequestOf({ model, messages: [{ role: 'user', content }] }, {}, config.routing);

function decide(model: string, loads: Record<string, Partial<LoadView>> = {}, content = 'hello'): Decision {
  const req = request(model, content);
  return router.choose(req, router.resolve(req)!, (g) => g.deployments.map((x) => ({ ...IDLE, ...loads[x.name] })), env);
}

function planFor(model: string): Plan {
  const req = request(model);
  const decision = decide(model);
  if (decision.outcome !== 'routed') throw new Error('not routed');
  return { call: 'chat', api: 'openai', primary: decision.primary.name, hops: router.hops(req, decision, (g) => g.deployments.map(() => IDLE), env) };
}

describe('fallback plans', () => {
  it("lists the group's other deployments, then its fallback groups, marking what each serves", () => {
    const plan = planFor('gpt-4o');
    expect(formatPlan(plan)).toBe('gpt4o-a gpt4o-b claude-a:p mini-a long-a:w');
    expect(parsePlan(formatPlan(plan), config.deployments)).toEqual(plan);
  });

  it('without content-policy or context-window lists, cross-group hops serve them (context: only larger windows)', () => {
    expect(formatPlan(planFor('plain'))).toBe('plain-a mini-a:p bigger-a:pw');
  });

  it('names the call, so each hop of a stream or a text completion is called at its own path', () => {
    for (const call of ['chat-stream', 'embeddings', 'completions'] as const) {
      const plan = { ...planFor('gpt-4o'), call };
      expect(formatPlan(plan).startsWith(`#${call} `)).toBe(true);
      expect(parsePlan(formatPlan(plan), config.deployments)).toEqual(plan);
    }
  });

  it('rejects a plan naming an unknown deployment', () => {
    expect(parsePlan('gpt4o-a nope', config.deployments)).toBeNull();
    expect(parsePlan(undefined, config.deployments)).toBeNull();
  });

  it('the next hop skips unusable deployments, and after a refusal of a kind, hops that do not serve it', () => {
    const plan = parsePlan('gpt4o-a gpt4o-b claude-a:p mini-a long-a:w', config.deployments)!;
    const all = () => true;
    expect(nextHop(plan, 'gpt4o-a', all)?.deployment).toBe('gpt4o-b');
    expect(nextHop(plan, 'gpt4o-a', (x) => x !== 'gpt4o-b')?.deployment).toBe('claude-a');
    expect(nextHop(plan, 'gpt4o-a', all, 'content_policy')?.deployment).toBe('claude-a');
    expect(nextHop(plan, 'gpt4o-b', all, 'context_window')?.deployment).toBe('long-a');
    expect(nextHop(plan, 'long-a', all)).toBeNull();
  });

  it('plans the hops of retries 2 to 4 in order, repeating the last when the plan runs out', () => {
    const plan = parsePlan('gpt4o-a gpt4o-b claude-a:p', config.deployments)!;
    expect(plannedHops(plan, 3, () => true)).toEqual(['gpt4o-b', 'claude-a', 'claude-a']);
    expect(plannedHops(plan, 3, (x) => x !== 'gpt4o-b')).toEqual(['claude-a', 'claude-a', 'claude-a']);
    expect(plannedHops({ call: 'chat', api: 'openai', primary: 'gpt4o-a', hops: [] }, 3, () => true)).toEqual(['gpt4o-a', 'gpt4o-a', 'gpt4o-a']);
  });

  it('a prompt no deployment of the group can hold goes to its context-window fallback up front', () => {
    const decision = decide('gpt-4o', {}, 'word '.repeat(140_000));
    expect(decision).toMatchObject({ outcome: 'routed', primary: { name: 'long-a' }, fallbackFrom: { group: 'gpt-4o', reason: 'context_window' } });
  });

  it('a group whose deployments are all cooling goes to its fallback groups', () => {
    const cooling = { coolingUntilMs: env.now() + 5000 };
    const decision = decide('gpt-4o', { 'gpt4o-a': cooling, 'gpt4o-b': cooling });
    expect(decision).toMatchObject({ outcome: 'routed', primary: { name: 'claude-a' }, fallbackFrom: { group: 'gpt-4o', reason: 'unavailable' } });
  });

  it('unhealthy deployments are avoided, in favour of fallback groups; with nothing else left, used anyway (panic routing)', () => {
    const req = request('gpt-4o');
    const target = router.resolve(req)!;
    const idle = (g: { deployments: readonly unknown[] }) => g.deployments.map(() => IDLE);
    const sick = { budgetSpent: new Set<string>(), unhealthy: new Map([['gpt4o-a', NOT_SERVING], ['gpt4o-b', NO_CLUSTER]]) };
    expect(router.choose(req, target, idle, env, sick)).toMatchObject({ primary: { name: 'claude-a' }, fallbackFrom: { reason: 'unavailable' } });
    const allSick = { budgetSpent: new Set<string>(), unhealthy: new Map(['gpt4o-a', 'gpt4o-b', 'claude-a', 'mini-a'].map((d) => [d, NOT_SERVING])) };
    expect(router.choose(req, target, idle, env, allSick)).toMatchObject({ outcome: 'routed', group: { name: 'gpt-4o' } });
    // Panic routing never sends to a deployment Envoy has no cluster for: that can only be a 503.
    const allSickOneMissing = { ...allSick, unhealthy: new Map([...allSick.unhealthy, ['gpt4o-a', NO_CLUSTER]]) };
    expect(router.choose(req, target, idle, env, allSickOneMissing)).toMatchObject({
      outcome: 'routed',
      primary: { name: 'gpt4o-b' },
      excluded: [{ deployment: 'gpt4o-a', reason: 'unhealthy', detail: NO_CLUSTER }],
    });
  });

  it('with every fallback cooling too, the earliest recovery of any of them is when to come back', () => {
    const now = env.now();
    const decision = decide('gpt-4o', { 'gpt4o-a': { coolingUntilMs: now + 5000 }, 'gpt4o-b': { coolingUntilMs: now + 4000 }, 'claude-a': { coolingUntilMs: now + 3000 }, 'mini-a': { coolingUntilMs: now + 2000 } });
    expect(decision.outcome).toBe('no_candidates');
    expect(earliestRecovery(decision.outcome === 'no_candidates' ? decision.excluded : [])).toBe(now + 2000);
  });
});

describe('cooldowns', () => {
  const settings = { ...config.routing, cooldownMs: 5000, allowedFails: 3, allowedFailsWindowMs: 60_000 };

  it("a 429 cools until the provider's Retry-After, else for cooldown_ms", () => {
    const failures = new FailureWindow(60_000, 3);
    expect(cooldownAfter(attemptResult(429, 12_000), 'a', 10_000, settings, failures)).toBe(12_000);
    expect(cooldownAfter(attemptResult(429, null), 'a', 10_000, settings, failures)).toBe(15_000);
  });

  it('failures in a row within the window cool the deployment; a success in between starts the count again', () => {
    const failures = new FailureWindow(60_000, 3);
    const fail = (t: number) => cooldownAfter(attemptResult(503, null), 'a', t, settings, failures);
    expect(fail(0)).toBeNull();
    expect(fail(1)).toBeNull();
    expect(cooldownAfter(attemptResult(200, null), 'a', 2, settings, failures)).toBeNull();
    expect(fail(3)).toBeNull();
    expect(fail(4)).toBeNull();
    expect(fail(5)).toBe(5005);
    // Outside the window, old failures no longer count.
    expect(fail(70_000)).toBeNull();
    // No response at all (refused, reset) is a failure; a 4xx other than 429 is the request's fault.
    expect(attemptResult(null, null)).toEqual({ kind: 'failed' });
    expect(attemptResult(400, null)).toEqual({ kind: 'refused' });
  });
});

describe('provider signals', () => {
  const now = Date.UTC(2026, 10, 22, 12);

  it.each([
    [{ 'retry-after': '2' }, now + 2000],
    [{ 'retry-after': '1.5' }, now + 1500],
    [{ 'retry-after': 'Sun, 22 Nov 2026 12:00:07 GMT' }, now + 7000],
    [{ 'retry-after': 'Sun, 22 Nov 2026 11:00:00 GMT' }, now],
    [{ 'retry-after-ms': '250', 'retry-after': '1' }, now + 250],
    [{ 'retry-after': 'soon' }, null],
    [{}, null],
  ])('Retry-After %j → %s', (headers, expected) => {
    expect(retryAtMs(headers, now)).toBe(expected);
  });

  it.each([
    ['{"error":{"code":"content_filter","message":"filtered"}}', 'content_policy'],
    ['{"error":{"code":"content_policy_violation","message":"x"}}', 'content_policy'],
    ['{"error":{"code":null,"message":"x","innererror":{"code":"ResponsibleAIPolicyViolation"}}}', 'content_policy'],
    ['{"error":{"code":"context_length_exceeded","message":"x"}}', 'context_window'],
    ['{"error":{"message":"This model\'s maximum context length is 128000 tokens."}}', 'context_window'],
    ['{"error":{"code":"invalid_value","message":"bad temperature"}}', null],
    ['<html>bad request</html>', null],
  ])('a provider error %s is a %s refusal', (body, expected) => {
    expect(fallbackReasonOf(Buffer.from(body))).toBe(expected);
  });

  it("reads Envoy's admin view: a deployment is unhealthy when none of its hosts is usable, or when Envoy has no cluster for it", () => {
    const doc = {
      cluster_statuses: [
        { name: 'a', host_statuses: [{ health_status: { eds_health_status: 'HEALTHY', failed_outlier_check: true } }] },
        { name: 'b', host_statuses: [{ health_status: { failed_active_health_check: true } }, { health_status: { eds_health_status: 'HEALTHY' } }] },
        // Deployment c's cluster as a mesh names it.
        { name: 'outbound|443||c.example.com', host_statuses: [{ health_status: { eds_health_status: 'UNHEALTHY' } }] },
        { name: 'c', host_statuses: [{ health_status: { eds_health_status: 'HEALTHY' } }] },
        // Not checked yet: Envoy marks it failing until its first health check.
        { name: 'd', host_statuses: [{ health_status: { eds_health_status: 'HEALTHY', failed_active_health_check: true, pending_active_hc: true } }] },
        { name: 'llm_router', host_statuses: [{ health_status: { failed_outlier_check: true } }] },
      ],
    };
    const clusters = new Map(['a', 'b', 'outbound|443||c.example.com', 'd', 'e'].map((cluster) => [cluster, { name: cluster.startsWith('outbound') ? 'c' : cluster }]));
    expect([...unhealthyDeployments(doc, clusters)].sort()).toEqual([
      ['a', NOT_SERVING],
      ['c', NOT_SERVING],
      ['e', NO_CLUSTER],
    ]);
    // Nothing read (yet): nothing known to avoid.
    expect(unhealthyDeployments(null, new Map([['a', { name: 'a' }]])).size).toBe(0);
  });
});

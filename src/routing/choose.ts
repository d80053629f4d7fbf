/**
 * The one place a routing decision is made:
 *   requested model → (virtual model → classifier →) model group → candidate filters → the group's
 *   strategy → primary and fallback order, with every exclusion and score kept for the record;
 *   a prompt too long for the whole group goes to its context-window fallbacks; then the hops of
 *   the request's fallback plan (plan.ts).
 * Pure: config, request, load and env in, a Decision out. The caller reads the load first (of every
 * group `reachable` names): every group needs at least the cooldowns, whatever its strategy.
 */
import { BALANCE_WEIGHTS, type ModelGroup, type RouterConfig } from '../config/compile.js';
import { Classifier, type ExampleVectors } from './classifier/index.js';
import { NO_CLUSTER } from './envoy-health.js';
import { filterCandidates, NOTHING_TO_AVOID, type Avoid } from './filters.js';
import { planHops, type Hop } from './plan.js';
import { strategies } from './strategies/index.js';
import { IDLE, type Candidate, type Classification, type Decision, type LoadView, type PolicyEnv, type RouteRequest, type Strategy } from './types.js';

export type Target = { readonly group: ModelGroup; readonly classification: Classification | null } | null;

/** The live load of a group's deployments, aligned with `group.deployments`; null when unknown. */
export type LoadsOf = (group: ModelGroup) => readonly LoadView[] | null;


export class Router {
  private readonly strategyByGroup = new Map<string, Strategy>();
  private readonly classifiers = new Map<string, Classifier>();
  /** Per virtual model, every group it can resolve to. */
  private readonly groupsOfVirtual = new Map<string, ReadonlySet<string>>();
  /** Per allowlist (a key's `models`, one set per key), the groups it covers. */
  private readonly groupsOfAllowlist = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

  /** `examples`: per virtual model, its examples' embeddings, when it has an embeddings endpoint and they were fetched. */
  constructor(
    private readonly config: RouterConfig,
    examples: ReadonlyMap<string, ExampleVectors> = new Map(),
  ) {
    for (const group of config.groups.values()) this.strategyByGroup.set(group.name, strategies[group.strategy]());
    for (const v of config.virtualModels.values()) {
      this.classifiers.set(v.name, new Classifier(v, examples.get(v.name) ?? null));
      this.groupsOfVirtual.set(v.name, new Set([v.defaultGroup, ...v.rules.map((r) => r.group), ...(v.semantic?.routes.map((r) => r.group) ?? [])]));
    }
  }

  /**
   * Whether the request may be served by `group`: a group its key may request, or one a virtual
   * model it may request resolves to. Fallback groups and hops outside that are not planned.
   */
  mayServe(req: RouteRequest, group: string): boolean {
    const models = req.allowedModels;
    if (models === null) return true;
    let groups = this.groupsOfAllowlist.get(models);
    if (groups === undefined) {
      groups = new Set([...models].flatMap((m) => [...(this.groupsOfVirtual.get(m) ?? [m])]));
      this.groupsOfAllowlist.set(models, groups);
    }
    return groups.has(group);
  }

  /** Whether classifying this request would use an embedding of its prompt (fetched by the caller). */
  wantsEmbedding(req: RouteRequest): boolean {
    return this.classifiers.get(req.model)?.wantsEmbedding(req) ?? false;
  }

  /** The model group a request goes to; null when its model is neither a group nor a virtual model. */
  resolve(req: RouteRequest, promptVector: Float32Array | null = null): Target {
    const group = this.config.groups.get(req.model);
    if (group !== undefined) return { group, classification: null };
    const classifier = this.classifiers.get(req.model);
    if (classifier === undefined) return null;
    const classification = classifier.classify(req, promptVector);
    return { group: this.config.groups.get(classification.group)!, classification };
  }

  /** The target group and every group a request to it may be routed or fall back to. */
  reachable(group: ModelGroup): ModelGroup[] {
    const names = new Set([group.name, ...group.fallbacks, ...group.contentPolicyFallbacks, ...group.contextWindowFallbacks]);
    for (const cw of group.contextWindowFallbacks) {
      const g = this.config.groups.get(cw)!;
      for (const n of [...g.fallbacks, ...g.contentPolicyFallbacks, ...g.contextWindowFallbacks]) names.add(n);
    }
    return [...names].map((n) => this.config.groups.get(n)!);
  }

  /**
   * When no deployment of the group can take the request, its fallback groups are asked in order:
   * its context-window fallbacks for a prompt none can hold, else its general fallbacks (all
   * cooling, unhealthy, at their limits). With none anywhere, the exclusions of every group asked
   * are kept, so the caller can say when the first one recovers.
   */
  choose(req: RouteRequest, target: NonNullable<Target>, loadsOf: LoadsOf, env: PolicyEnv, avoid: Avoid = NOTHING_TO_AVOID): Decision {
    const decision = this.chooseWithFallbacks(req, target, loadsOf, env, avoid);
    // Envoy's panic routing, in the router: when health rules out everything, it says nothing. A
    // deployment Envoy has no cluster for stays out: sending to it can only get Envoy's 503.
    if (decision.outcome !== 'no_candidates' || !decision.excluded.some((e) => e.reason === 'unhealthy' && e.detail !== NO_CLUSTER)) return decision;
    const missing = new Map([...avoid.unhealthy].filter(([, why]) => why === NO_CLUSTER));
    return this.chooseWithFallbacks(req, target, loadsOf, env, { ...avoid, unhealthy: missing });
  }

  private chooseWithFallbacks(req: RouteRequest, target: NonNullable<Target>, loadsOf: LoadsOf, env: PolicyEnv, avoid: Avoid): Decision {
    const { group, classification } = target;
    const decision = this.chooseIn(req, group, classification, loadsOf(group), env, avoid);
    if (decision.outcome !== 'no_candidates') return decision;
    const reason = decision.excluded.some((e) => e.reason === 'context_window') ? 'context_window' : 'unavailable';
    const excluded = [...decision.excluded];
    for (const name of reason === 'context_window' ? group.contextWindowFallbacks : group.fallbacks) {
      if (!this.mayServe(req, name)) continue;
      const fallback = this.config.groups.get(name)!;
      const alternative = this.chooseIn(req, fallback, classification, loadsOf(fallback), env, avoid);
      if (alternative.outcome === 'routed') return { ...alternative, excluded: [...excluded, ...alternative.excluded], fallbackFrom: { group: group.name, reason } };
      if (alternative.outcome === 'no_candidates') excluded.push(...alternative.excluded);
    }
    return { ...decision, excluded };
  }

  /** Where the attempts after the primary may go, in order (plan.ts). */
  hops(req: RouteRequest, decision: Extract<Decision, { outcome: 'routed' }>, loadsOf: LoadsOf, env: PolicyEnv, avoid: Avoid = NOTHING_TO_AVOID): Hop[] {
    const g = decision.group;
    return planHops(decision.primary, decision.fallbacks, { fallbacks: g.fallbacks, contentPolicy: g.contentPolicyFallbacks, contextWindow: g.contextWindowFallbacks }, (name) => {
      if (!this.mayServe(req, name)) return [];
      const fallback = this.config.groups.get(name)!;
      const d = this.chooseIn(req, fallback, null, loadsOf(fallback), env, avoid);
      return d.outcome === 'routed' ? [d.primary, ...d.fallbacks] : [];
    });
  }

  private chooseIn(
    req: RouteRequest,
    group: ModelGroup,
    classification: Classification | null,
    loads: readonly LoadView[] | null,
    env: PolicyEnv,
    avoid: Avoid,
  ): Decision {
    const all: Candidate[] = group.deployments.map((deployment, i) => ({ deployment, load: loads?.[i] ?? IDLE }));
    const { survivors, excluded } = filterCandidates(req, all, { group, env, avoid }, this.config.routing);
    if (survivors.length === 0) return { outcome: 'no_candidates', group, excluded, classification };
    const strategy = this.strategyByGroup.get(group.name)!;
    const weights = req.preference !== null && group.balance.allowOverride ? BALANCE_WEIGHTS[req.preference] : group.balance.weights;
    const ranking = strategy.rank(req, survivors, { group, env, weights });
    const primary = survivors[ranking.order[0]!]!.deployment;
    const fallbacks = [];
    for (let i = 1; i < ranking.order.length; i++) fallbacks.push(survivors[ranking.order[i]!]!.deployment);
    return {
      outcome: 'routed',
      group,
      strategy: strategy.kind,
      primary,
      fallbacks,
      candidates: survivors.map((c) => c.deployment.name),
      scores: ranking.scores,
      excluded,
      classification,
      fallbackFrom: null,
    };
  }
}

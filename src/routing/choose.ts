/**
 * The one place a routing decision is made:
 *   requested model → (virtual model → classifier →) model group → candidate filters → the group's
 *   strategy → primary and fallback order, with every exclusion and score kept for the record.
 * Pure: config, request, load and env in, a Decision out. The caller reads the load first: every
 * group needs at least the cooldowns, whatever its strategy.
 */
import { BALANCE_WEIGHTS, type ModelGroup, type RouterConfig } from '../config/compile.js';
import { Classifier, type ExampleVectors } from './classifier/index.js';
import { filterCandidates } from './filters.js';
import { strategies } from './strategies/index.js';
import { IDLE, type Candidate, type Classification, type Decision, type LoadView, type PolicyEnv, type RouteRequest, type Strategy } from './types.js';

export type Target = { readonly group: ModelGroup; readonly classification: Classification | null } | null;

const NO_BUDGET_LIMITS: ReadonlySet<string> = new Set();

export class Router {
  private readonly strategyByGroup = new Map<string, Strategy>();
  private readonly classifiers = new Map<string, Classifier>();

  /** `examples`: per virtual model, its examples' embeddings, when it has an embeddings endpoint and they were fetched. */
  constructor(
    private readonly config: RouterConfig,
    examples: ReadonlyMap<string, ExampleVectors> = new Map(),
  ) {
    for (const group of config.groups.values()) this.strategyByGroup.set(group.name, strategies[group.strategy]());
    for (const v of config.virtualModels.values()) this.classifiers.set(v.name, new Classifier(v, examples.get(v.name) ?? null));
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

  /**
   * `loads` is aligned with `target.group.deployments` (null: unknown, every deployment idle).
   * `budgetExhausted` names deployments whose provider or model budget is spent.
   */
  choose(
    req: RouteRequest,
    target: NonNullable<Target>,
    loads: readonly LoadView[] | null,
    env: PolicyEnv,
    budgetExhausted: ReadonlySet<string> = NO_BUDGET_LIMITS,
  ): Decision {
    const { group, classification } = target;
    const all: Candidate[] = group.deployments.map((deployment, i) => ({ deployment, load: loads?.[i] ?? IDLE }));
    const { survivors, excluded } = filterCandidates(req, all, { group, env, budgetExhausted }, this.config.routing);
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
    };
  }
}

/**
 * The one place a routing decision is made: requested model → model group → candidates → the
 * group's strategy → primary and fallbacks. Pure: config, request and env in, a Decision out.
 */
import type { RouterConfig } from '../config/compile.js';
import { strategies } from './strategies/index.js';
import type { Decision, PolicyEnv, RouteRequest, Strategy } from './types.js';

export class Router {
  private readonly strategyByGroup = new Map<string, Strategy>();

  constructor(private readonly config: RouterConfig) {
    for (const group of config.groups.values()) this.strategyByGroup.set(group.name, strategies[group.strategy]());
  }

  choose(req: RouteRequest, env: PolicyEnv): Decision {
    const group = this.config.groups.get(req.requestedModel);
    if (group === undefined) return { outcome: 'unknown_model', requestedModel: req.requestedModel };
    const candidates = group.deployments;
    if (candidates.length === 0) return { outcome: 'no_candidates', group };
    const strategy = this.strategyByGroup.get(group.name)!;
    const ranking = strategy.rank(req, candidates, env);
    const primary = candidates[ranking.order[0]!]!;
    const fallbacks = [];
    for (let i = 1; i < ranking.order.length; i++) fallbacks.push(candidates[ranking.order[i]!]!);
    return {
      outcome: 'routed',
      group,
      strategy: strategy.kind,
      primary,
      fallbacks,
      candidates: candidates.map((d) => d.name),
      scores: ranking.scores,
    };
  }
}

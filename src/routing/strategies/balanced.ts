/**
 * balanced — a weighted score of quality, cost and latency (seed 001), each normalised across the
 * candidates to [0, 1] (quality / best quality, cheapest cost / cost, fastest latency / latency; a
 * deployment with no recent latency counts as fastest). The weights come from the group's preset
 * (balanced, cost-first, quality-first, or explicit) or from the request's preset when allowed.
 */
import type { Strategy } from '../types.js';
import { expectedCostNanos } from './cost-based.js';
import { latencyOf } from './latency-based.js';
import { normalise, rankByScore } from './order.js';

export const kind = 'balanced';

export function create(): Strategy {
  return {
    kind,
    rank(req, candidates, { env, weights }) {
      const quality = normalise(
        candidates.map((c) => c.deployment.quality),
        false,
      );
      const cost = normalise(
        candidates.map((c) => expectedCostNanos(req, c.deployment)),
        true,
      );
      const latency = normalise(
        candidates.map((c) => latencyOf(req, c) ?? 0),
        true,
      );
      const total = weights.quality + weights.cost + weights.latency || 1;
      const scores = candidates.map((_, i) => (weights.quality * quality[i]! + weights.cost * cost[i]! + weights.latency * latency[i]!) / total);
      return rankByScore(scores, env);
    },
  };
}

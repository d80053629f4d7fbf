/**
 * weighted-random — prefers deployments in proportion to their configured `weight`.
 *
 * The primary is drawn with probability weight / Σweights (one random number, a cumulative walk);
 * the fallbacks follow in descending weight. Scores are weight / max weight.
 * Params: none. Inputs: `Deployment.weight` (its `weight`, else its RPM or TPM limit, else 1).
 */
import type { Strategy } from '../types.js';

export const kind = 'weighted-random';

export function create(): Strategy {
  return {
    kind,
    rank(_req, candidateLoads, { env }) {
      const candidates = candidateLoads.map((c) => c.deployment);
      const n = candidates.length;
      if (n === 0) return { order: [], scores: [] };
      let total = 0;
      let max = 0;
      for (let i = 0; i < n; i++) {
        const w = candidates[i]!.weight;
        total += w;
        if (w > max) max = w;
      }
      let target = env.random() * total;
      let primary = n - 1;
      for (let i = 0; i < n; i++) {
        target -= candidates[i]!.weight;
        if (target < 0) {
          primary = i;
          break;
        }
      }
      const order = [primary];
      const rest: number[] = [];
      for (let i = 0; i < n; i++) if (i !== primary) rest.push(i);
      rest.sort((a, b) => candidates[b]!.weight - candidates[a]!.weight || a - b);
      for (const i of rest) order.push(i);
      const scores = candidates.map((d) => d.weight / max);
      return { order, scores };
    },
  };
}

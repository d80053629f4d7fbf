/** The ranking most strategies share: best score first, equal scores in random order. */
import type { PolicyEnv, Ranking } from '../types.js';

export function rankByScore(scores: readonly number[], env: PolicyEnv): Ranking {
  const ties = scores.map(() => env.random());
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || ties[a]! - ties[b]!);
  return { order, scores };
}

/**
 * To [0, 1]: `value / max` for higher-is-better values; `min / value` for lower-is-better ones, where
 * 0 (free, or not measured yet) counts as the best.
 */
export function normalise(values: readonly number[], lowerIsBetter: boolean): number[] {
  if (lowerIsBetter) {
    const min = Math.min(...values.filter((v) => v > 0));
    return values.map((v) => (v <= 0 ? 1 : min / v));
  }
  const max = Math.max(...values);
  return values.map((v) => (max <= 0 ? 1 : v / max));
}

/**
 * cost-based — the cheapest deployment for this request: expected prompt tokens at the input price
 * plus `max_tokens` (or as many as the prompt, when unset) at the output price. Filters have already
 * removed the deployments that cannot take it (context window, capabilities, …).
 * Score = cheapest cost / this cost.
 */
import { estimatedTokens } from '../filters.js';
import type { RouteRequest, Strategy } from '../types.js';
import { normalise, rankByScore } from './order.js';
import type { Deployment } from '../../config/compile.js';

export const kind = 'cost-based';

export function expectedCostNanos(req: RouteRequest, d: Deployment): number {
  const prompt = estimatedTokens(req) - (req.maxTokens ?? 0);
  const reply = req.maxTokens ?? prompt;
  return prompt * d.price.inputNanosPerToken + reply * d.price.outputNanosPerToken;
}

export function create(): Strategy {
  return {
    kind,
    rank: (req, candidates, { env }) => rankByScore(normalise(candidates.map((c) => expectedCostNanos(req, c.deployment)), true), env),
  };
}

/**
 * cost-based — the cheapest deployment for this request: expected prompt tokens at the input price
 * plus `n` × `max_tokens` (as many as the prompt per choice, when unset) at the output price.
 * Filters have already removed the deployments that cannot take it (context window, capabilities, …).
 * Score = cheapest cost / this cost.
 */
import { completionTokens, estimatedPromptTokens } from '../filters.js';
import type { RouteRequest, Strategy } from '../types.js';
import { normalise, rankByScore } from './order.js';
import type { Deployment } from '../../config/compile.js';

export const kind = 'cost-based';

export function expectedCostNanos(req: RouteRequest, d: Deployment): number {
  const prompt = estimatedPromptTokens(req);
  const reply = completionTokens(req, prompt);
  return prompt * d.price.inputNanosPerToken + reply * d.price.outputNanosPerToken;
}

export function create(): Strategy {
  return {
    kind,
    rank: (req, candidates, { env }) => rankByScore(normalise(candidates.map((c) => expectedCostNanos(req, c.deployment)), true), env),
  };
}

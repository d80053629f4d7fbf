/**
 * least-busy — the deployment with the fewest requests in flight across all router replicas.
 * Score = 1 / (1 + in-flight); equal counts are broken at random so idle deployments share traffic.
 */
import type { Strategy } from '../types.js';
import { rankByScore } from './order.js';

export const kind = 'least-busy';

export function create(): Strategy {
  return {
    kind,
    rank: (_req, candidates, { env }) => rankByScore(candidates.map((c) => 1 / (1 + c.load.inFlight)), env),
  };
}

/**
 * latency-based — the fastest deployment by recent latency: time to first token for streams, total
 * latency otherwise (each the mean of the newest samples, see the state store). Deployments within
 * `latency_tolerance` of the fastest form a band and share its traffic at random, so near-equal
 * deployments are not starved; a deployment with no recent sample is tried as if fastest, so it
 * gets measured and a recovered one comes back. Score = fastest / this latency.
 */
import type { Candidate, RouteRequest, Strategy } from '../types.js';
import { rankByScore } from './order.js';

export const kind = 'latency-based';

export function latencyOf(req: RouteRequest, c: Candidate): number | null {
  return req.stream ? (c.load.ttftMs ?? c.load.latencyMs) : c.load.latencyMs;
}

export function create(): Strategy {
  return {
    kind,
    rank(req, candidates, { group, env }) {
      const latencies = candidates.map((c) => latencyOf(req, c));
      const known = latencies.filter((l): l is number => l !== null);
      const fastest = known.length === 0 ? 0 : Math.min(...known);
      const band = fastest * (1 + group.latencyTolerance);
      const scores = latencies.map((l) => (l === null || l <= 0 ? 1 : fastest / l));
      // Inside the band every deployment ranks equal (random order); outside, by latency.
      const keys = latencies.map((l) => (l === null || l <= band ? 1 : fastest / l));
      const ranking = rankByScore(keys, env);
      return { order: ranking.order, scores };
    },
  };
}

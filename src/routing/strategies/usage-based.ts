/**
 * usage-based — the deployment with the most headroom against its own RPM and TPM limits in the
 * sliding minute: headroom = the smallest of 1 − used/limit for requests and for tokens (1 without a
 * limit) and of remaining/limit as the provider last reported them (x-ratelimit-* headers).
 * Deployments past a limit were already removed by the rate-limit filter.
 */
import type { Candidate, Strategy } from '../types.js';
import { rankByScore } from './order.js';

export const kind = 'usage-based';

export function headroom({ deployment: d, load }: Candidate): number {
  const rpm = d.rpmLimit === null ? 1 : 1 - load.requestsInWindow / d.rpmLimit;
  const tpm = d.tpmLimit === null ? 1 : 1 - load.tokensInWindow / d.tpmLimit;
  const p = load.provider;
  const reportedRequests = p?.requests == null ? 1 : p.requests.remaining / p.requests.limit;
  const reportedTokens = p?.tokens == null ? 1 : p.tokens.remaining / p.tokens.limit;
  return Math.max(0, Math.min(rpm, tpm, reportedRequests, reportedTokens));
}

export function create(): Strategy {
  return {
    kind,
    rank: (_req, candidates, { env }) => rankByScore(candidates.map(headroom), env),
  };
}

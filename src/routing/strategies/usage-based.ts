/**
 * usage-based — the deployment with the most headroom against its own RPM and TPM limits in the
 * sliding minute: headroom = the smaller of 1 − used/limit for requests and for tokens (1 without a
 * limit). Deployments past a limit were already removed by the rate-limit filter.
 */
import type { Candidate, Strategy } from '../types.js';
import { rankByScore } from './order.js';

export const kind = 'usage-based';

export function headroom({ deployment: d, load }: Candidate): number {
  const rpm = d.rpmLimit === null ? 1 : 1 - load.requestsInWindow / d.rpmLimit;
  const tpm = d.tpmLimit === null ? 1 : 1 - load.tokensInWindow / d.tpmLimit;
  return Math.max(0, Math.min(rpm, tpm));
}

export function create(): Strategy {
  return {
    kind,
    rank: (_req, candidates, { env }) => rankByScore(candidates.map(headroom), env),
  };
}

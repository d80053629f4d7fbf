/**
 * What the router tells Envoy about each request (dynamic metadata, types.ts RequestMetadata), so
 * Envoy's access log and later filters see the routing and the usage without asking the router:
 * the decision with the request body's reply, the usage with the reply to the response's end (Envoy
 * merges the two; the second `deployment` names the one that answered after a fallback hop).
 */
import type { Deployment } from '../config/compile.js';
import type { Decision } from '../routing/types.js';
import type { CacheResult, UsageRecord } from '../state/store.js';
import type { RequestMetadata } from './types.js';

/** Why this deployment: its group's ranking, a virtual model's classifier, or a fallback group. */
function decisionReason(decision: Extract<Decision, { outcome: 'routed' }>): string {
  if (decision.fallbackFrom !== null) return `fallback_group:${decision.fallbackFrom.reason}`;
  if (decision.classification !== null) return `classified:${decision.classification.by}`;
  return 'ranked';
}

/**
 * A request sent to `d` (`decision`: routed, unless a token count went to the deployment that counts): sent with the request body's reply.
 * `cache`: what the group's cache found (miss or bypass), which envoy.yaml turns into the `x-llm-cache` response header.
 */
export function routingMetadata(decision: Decision | null, requestedModel: string | null, d: Deployment, cache: CacheResult | null = null): RequestMetadata {
  const sent = { requested_model: requestedModel ?? '', deployment: d.name, provider: d.provider, ...(cache === null ? {} : { cache }) };
  if (decision?.outcome !== 'routed') return sent;
  return { ...sent, model_group: decision.group.name, strategy: decision.strategy, decision_reason: decisionReason(decision) };
}

/** A request that ended: what it used and cost, sent with the reply to its last response message. */
export function usageMetadata(record: UsageRecord): RequestMetadata {
  return {
    deployment: record.deployment,
    provider: record.provider,
    input_tokens: record.promptTokens,
    output_tokens: record.completionTokens,
    total_tokens: record.totalTokens,
    cost_usd: record.costNanos / 1e9,
    usage: record.usageEstimated ? 'estimated' : record.totalTokens > 0 ? 'reported' : 'none',
  };
}

/** A request the router refused: its error code (the decision's group when one was made). */
export function refusalMetadata(code: string, decision: Decision | null): RequestMetadata {
  return decision === null || decision.outcome === 'unknown_model' ? { error: code } : { error: code, model_group: decision.group.name };
}

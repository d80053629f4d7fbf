/**
 * The request as it goes to the chosen deployment: the routing header, the fallback plan, the
 * deployment's credential in place of the client's, and the body rewritten only when something
 * must change (the provider's model id, `stream_options.include_usage`, our own `disable_fallbacks`)
 * — otherwise Envoy forwards the original bytes.
 */
import type { Deployment } from '../config/compile.js';
import type { ApiRequest } from './api-request.js';
import type { HeaderPair, Outcome } from './types.js';

/** The request header that carries the fallback plan from the request phase to every attempt (routing/plan.ts). */
export const PLAN_HEADER = 'x-llm-plan';
/** Marks a streaming request for envoy.yaml's stream route (an idle timeout per attempt). */
export const STREAM_HEADER = 'x-llm-stream';

/**
 * The hops the request-body reply plans for attempts 2 to 4 (envoy.yaml: `num_retries: 3`). Envoy
 * uses one only when the upstream filter's own choice for that attempt came too late (a connection
 * refused before its reply): the route's matcher reads `x-llm-hop-<n>` while Envoy's attempt count
 * is still on the request.
 */
export const HOP_HEADERS = ['x-llm-hop-2', 'x-llm-hop-3', 'x-llm-hop-4'] as const;
/** Envoy's attempt count (virtual host `include_request_attempt_count`): the matcher's switch to the planned hops. */
export const ATTEMPT_COUNT_HEADER = 'x-envoy-attempt-count';

/**
 * Client headers that must never reach a provider: the client's credentials and a compression we
 * could not read usage from. `authorization` is overwritten instead when the deployment has a key.
 */
const CLIENT_ONLY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'accept-encoding'];
const CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION = ['x-api-key', 'api-key', 'accept-encoding'];

/** The deployment's credential, and no other: on a fallback hop it replaces the previous deployment's. */
export function credentialHeaders(d: Deployment): { readonly set: readonly HeaderPair[]; readonly remove: readonly string[] } {
  return d.credential === null
    ? { set: [], remove: CLIENT_ONLY_HEADERS }
    : { set: [['authorization', `Bearer ${d.credential}`]], remove: CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION };
}

export interface Upstream {
  readonly outcome: Outcome;
  /** The router asked for `include_usage` the client did not: its usage chunk is the router's to drop. */
  readonly hideUsageEvent: boolean;
}

/**
 * `plan`: the header value; `hops`: the deployments of attempts 2 to 4 as planned now (the last one
 * repeats when the plan has fewer: Envoy then retries within that deployment).
 */
export function upstreamRequest(req: ApiRequest, d: Deployment, clusterHeader: string, plan: string, hops: readonly string[]): Upstream {
  const needsModel = d.providerModel !== req.model;
  const needsUsage = req.stream && !req.clientWantsUsage;
  const ownField = req.body.disable_fallbacks !== undefined;
  const credential = credentialHeaders(d);
  const setHeaders: HeaderPair[] = [[clusterHeader, d.name], [PLAN_HEADER, plan], ...credential.set];
  HOP_HEADERS.forEach((h, i) => setHeaders.push([h, hops[i] ?? hops[hops.length - 1] ?? d.name]));
  if (req.stream) setHeaders.push([STREAM_HEADER, '1']);
  let body: Buffer | undefined;
  if (needsModel || needsUsage || ownField) {
    const rewritten: Record<string, unknown> = { ...req.body };
    if (needsModel) rewritten.model = d.providerModel;
    if (needsUsage) rewritten.stream_options = { ...(req.body.stream_options as object | null | undefined), include_usage: true };
    delete rewritten.disable_fallbacks;
    body = Buffer.from(JSON.stringify(rewritten));
    setHeaders.push(['content-length', String(body.length)]);
  }
  return { outcome: { kind: 'continue', setHeaders, removeHeaders: credential.remove, body, clearRouteCache: true }, hideUsageEvent: needsUsage };
}

/**
 * The request as it goes to the chosen deployment: the routing header, the deployment's credential
 * in place of the client's, and the body rewritten only when something must change (the provider's
 * model id, `stream_options.include_usage`) — otherwise Envoy forwards the original bytes.
 */
import type { Deployment } from '../config/compile.js';
import type { ChatRequest } from './chat-request.js';
import type { HeaderPair, Outcome } from './types.js';

/**
 * Client headers that must never reach a provider: the client's credentials and a compression we
 * could not read usage from. `authorization` is overwritten instead when the deployment has a key.
 */
const CLIENT_ONLY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'accept-encoding'];
const CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION = ['x-api-key', 'api-key', 'accept-encoding'];

export interface Upstream {
  readonly outcome: Outcome;
  /** The router asked for `include_usage` the client did not: its usage chunk is the router's to drop. */
  readonly hideUsageEvent: boolean;
}

export function upstreamRequest(req: ChatRequest, d: Deployment, clusterHeader: string): Upstream {
  const needsModel = d.providerModel !== req.model;
  const needsUsage = req.stream && !req.clientWantsUsage;
  const setHeaders: HeaderPair[] = [[clusterHeader, d.name]];
  if (d.credential !== null) setHeaders.push(['authorization', `Bearer ${d.credential}`]);
  let body: Buffer | undefined;
  if (needsModel || needsUsage) {
    const rewritten: Record<string, unknown> = { ...req.body };
    if (needsModel) rewritten.model = d.providerModel;
    if (needsUsage) rewritten.stream_options = { ...(req.body.stream_options as object | null | undefined), include_usage: true };
    body = Buffer.from(JSON.stringify(rewritten));
    setHeaders.push(['content-length', String(body.length)]);
  }
  const removeHeaders = d.credential === null ? CLIENT_ONLY_HEADERS : CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION;
  return { outcome: { kind: 'continue', setHeaders, removeHeaders, body, clearRouteCache: true }, hideUsageEvent: needsUsage };
}

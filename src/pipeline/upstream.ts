/**
 * The request as it goes to the chosen deployment: the routing header, the fallback plan, the
 * deployment's path, credential (in place of the client's) and fixed headers, only the client
 * headers every deployment of the plan accepts, and the body as its provider's adapter rewrites it
 * — the client's bytes unless something must change (providers/<name>/adapter.ts).
 */
import type { Deployment } from '../config/compile.js';
import { RouterError } from '../errors.js';
import { allows, type HeaderAllowlist } from '../providers/forwarded-headers.js';
import type { BodyRewrite } from '../providers/adapter.js';
import { openAiFormOf } from '../providers/client-apis.js';
import { editsRemovingRouterFields } from '../providers/router-fields.js';
import { spliced } from '../json/splice.js';
import { callOf, type Call, type ClientApi } from '../routing/types.js';
import type { ApiRequest } from './api-request.js';
import type { HeaderPair, Headers, Outcome } from './types.js';

/** The request header that carries the fallback plan from the request phase to every attempt (routing/plan.ts). */
export const PLAN_HEADER = 'x-llm-plan';
/** Marks a streaming request for envoy.yaml's stream route (an idle timeout per attempt). */
export const STREAM_HEADER = 'x-llm-stream';
/**
 * Marks a request whose first deployment does not take OpenAI's format: envoy.yaml then sends its
 * first attempt, like every retry, to the router, which writes that attempt's body.
 */
export const TRANSLATE_HEADER = 'x-llm-translate';

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
 * What every attempt at `d` carries and may not carry: its path for the endpoint, its credential
 * and fixed headers — on a fallback hop they replace the previous deployment's.
 */
export function attemptHeaders(d: Deployment, call: Call): { readonly set: HeaderPair[]; readonly remove: readonly string[] } {
  // Routing sends a request only to a deployment with the endpoint's capability, which its provider serves (schema.ts).
  return { set: [[':path', d.paths[call]!], ...d.upstreamHeaders], remove: d.removedHeaders };
}

/**
 * Envoy's bounds on a request's headers (HCM defaults: 100 headers, 60 KiB) hold for the request
 * as the router leaves it, with the dozen headers it adds (routing, plan, hops, credential; under
 * 1 KiB). A client's request within these bounds stays within Envoy's; one over them gets the
 * router's 431 instead of Envoy failing the mutation with a bare 503.
 */
export const MAX_FORWARDED_HEADERS = 64;
export const MAX_FORWARDED_HEADER_BYTES = 32 * 1024;

/**
 * Envoy's own, kept on every request: the request id, which the upstream filters and the logs key
 * on, and `x-forwarded-proto`, without which Envoy's route lookup finds no route (404).
 */
const GATEWAY_HEADERS: ReadonlySet<string> = new Set(['x-request-id', 'x-forwarded-proto']);

/** A client's header, not a pseudo-header or Envoy's (envoy.yaml's first filter removes a client's `x-envoy-*`). */
function clientHeader(name: string): boolean {
  return name.charCodeAt(0) !== 0x3a && !name.startsWith('x-envoy-') && !GATEWAY_HEADERS.has(name);
}

/**
 * At the request headers, with `any` the headers some deployment receives: a 431 when those are more
 * than Envoy would take with the router's additions; else the client headers no deployment
 * receives, removed at once so the router's additions never push a request over Envoy's limits.
 */
export function headersNoneReceive(headers: Headers, any: HeaderAllowlist): string[] {
  const none: string[] = [];
  let count = 0;
  let bytes = 0;
  for (const name in headers) {
    if (!clientHeader(name)) continue;
    if (!allows(any, name)) {
      none.push(name);
      continue;
    }
    count++;
    bytes += name.length + headers[name]!.length;
  }
  if (count > MAX_FORWARDED_HEADERS || bytes > MAX_FORWARDED_HEADER_BYTES) {
    throw new RouterError(
      'request_headers_too_large',
      `The request has ${count} headers (${bytes} bytes) a provider would receive; the limit is ${MAX_FORWARDED_HEADERS} headers and ${MAX_FORWARDED_HEADER_BYTES} bytes.`,
    );
  }
  return none;
}

/** The client's headers, and which deployments the request may go to. */
export interface ClientHeaders {
  readonly headers: Headers;
  /** What some deployment receives: the rest went at the request headers (`headersNoneReceive`). */
  readonly any: HeaderAllowlist;
  /** Every deployment the plan may send an attempt to. */
  readonly planned: readonly Deployment[];
}

/**
 * Adds to `out` (the headers the router removes) the client's headers that some deployment receives
 * but not every one of the plan: removed before the first attempt, since every attempt (a fallback
 * hop too) goes out with the same request headers. Not the ones the router sets or already removes.
 */
function addUnforwardedHeaders(client: ClientHeaders, set: readonly HeaderPair[], out: string[]): void {
  for (const name in client.headers) {
    if (!clientHeader(name) || !allows(client.any, name) || written(set, out, name)) continue;
    if (!client.planned.every((d) => allows(d.forwardHeaders, name))) out.push(name);
  }
}

/** Whether the router sets or removes `name` itself; a dozen names each, compared in place rather than gathered into a set per request. */
function written(set: readonly HeaderPair[], removed: readonly string[], name: string): boolean {
  for (let i = 0; i < set.length; i++) if (set[i]![0] === name) return true;
  return removed.includes(name);
}

/**
 * The body Envoy buffers and replays on every attempt, edited in the client's bytes (`raw`). For
 * OpenAI's API: OpenAI's format as the adapter writes it (model id, usage report, the router's
 * fields removed). For another client API: the client's body without the router's fields — with
 * the deployment's model id when it speaks that API itself; any other deployment's attempt
 * translates it (`attemptBody`).
 */
function bufferedBody(req: ApiRequest, raw: Buffer, d: Deployment): BodyRewrite & { readonly translated: boolean } {
  if (req.api === 'openai') {
    const rewrite = d.adapter.rewriteBody({ body: req.body, raw, stream: req.stream, clientWantsUsage: req.clientWantsUsage, routerFields: req.routerFields }, d.providerModel);
    return { ...rewrite, translated: d.adapter.translate !== null };
  }
  const native = d.adapter.native === req.api;
  const set: Record<string, string> = native ? { model: JSON.stringify(d.providerModel) } : {};
  return { body: spliced(raw, editsRemovingRouterFields(set, req.routerFields)), hideUsageEvent: false, translated: !native };
}

/**
 * One attempt's body at `d`, from the body Envoy buffered (in the client's `api`): its own API's
 * with its model id, else the OpenAI form translated by its adapter or rewritten for it. Null: the
 * buffered bytes go as they are.
 */
export function attemptBody(buffered: Buffer, api: ClientApi, d: Deployment): Buffer | null {
  if (d.adapter.native === api) return spliced(buffered, { set: { model: JSON.stringify(d.providerModel) } });
  const openAi = openAiFormOf(api, JSON.parse(buffered.toString('utf8')) as Record<string, unknown>);
  if (d.adapter.translate !== null) return d.adapter.translate(openAi, d.providerModel);
  // The request phase already asked for a stream's usage and removed the router's fields.
  const raw = Buffer.from(JSON.stringify(openAi));
  return d.adapter.rewriteBody({ body: openAi, raw, stream: openAi.stream === true, clientWantsUsage: true, routerFields: false }, d.providerModel).body ?? raw;
}

export interface Upstream {
  readonly outcome: Outcome;
  /** The router asked for `include_usage` the client did not: its usage chunk is the router's to drop. */
  readonly hideUsageEvent: boolean;
}

/**
 * `plan`: the header value, or null for a request whose attempts the router does not follow (a
 * token count: its retries stay at `d`); `hops`: the clusters of attempts 2 to 4 as planned now
 * (the last one repeats when the plan has fewer: Envoy then retries within that deployment).
 */
export function upstreamRequest(req: ApiRequest, raw: Buffer, d: Deployment, clusterHeader: string, plan: string | null, hops: readonly string[], client: ClientHeaders): Upstream {
  const attempt = attemptHeaders(d, callOf(req.endpoint, req.stream));
  const setHeaders: HeaderPair[] = [[clusterHeader, d.cluster]];
  if (plan !== null) setHeaders.push([PLAN_HEADER, plan]);
  for (const h of attempt.set) setHeaders.push(h);
  for (let i = 0; i < HOP_HEADERS.length; i++) setHeaders.push([HOP_HEADERS[i]!, hops[i] ?? hops[hops.length - 1] ?? d.cluster]);
  if (req.stream) setHeaders.push([STREAM_HEADER, '1']);
  const rewrite = bufferedBody(req, raw, d);
  // A deployment that does not take the buffered body as it is gets its own from the attempt filter.
  if (rewrite.translated) setHeaders.push([TRANSLATE_HEADER, '1']);
  if (rewrite.body !== null) setHeaders.push(['content-length', String(rewrite.body.length)]);
  const removeHeaders = attempt.remove.slice();
  addUnforwardedHeaders(client, setHeaders, removeHeaders);
  const outcome: Outcome = { kind: 'continue', setHeaders, removeHeaders, body: rewrite.body ?? undefined, clearRouteCache: true };
  return { outcome, hideUsageEvent: rewrite.hideUsageEvent };
}

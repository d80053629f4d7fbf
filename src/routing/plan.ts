/**
 * The fallback plan of one request: the deployment it was prepared for, then every hop a later
 * attempt may go to, in order, each marked with the provider errors it may also take over.
 *
 * Envoy carries the plan out: the router writes it into a request header once (the request-body
 * reply), and its upstream filter, run on every attempt, reads it back and names the cluster the
 * *next* attempt goes to, if this one fails (`nextHop`). So the hop after an attempt is fixed when
 * that attempt starts, before its outcome is known. After a content-filter refusal or a
 * context-length error, Envoy retries (when a later hop serves the reason) on the hop already
 * named; that attempt knows the reason and names, for the one after it, the first hop that serves
 * it. A group's other deployments come first in a plan, so a refusal there can cost one attempt
 * on another deployment of the same model before the reason's own fallback.
 */
import type { Deployment } from '../config/compile.js';
import type { Call, ClientApi } from './types.js';

/** Provider errors that move a request to the group's own kind of fallback (not 5xx or 429, which any hop takes). */
export const FALLBACK_REASONS = ['content_policy', 'context_window'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

export interface Hop {
  readonly deployment: string;
  readonly serves: ReadonlySet<FallbackReason>;
}

export interface Plan {
  /**
   * The request's id in the attempt log of the router process that planned it (pipeline/attempts.ts),
   * made by that process: unlike `x-request-id`, which Envoy takes from any client it deems internal,
   * no client can send or guess it (a client's plan header is removed), so requests never share one.
   */
  readonly id?: string;
  /** What the client called for: each hop is called at its own path for it. */
  readonly call: Call;
  /** The client's API, which the body Envoy buffered is written in (each attempt translates from it). */
  readonly api: ClientApi;
  /** The deployment the request's body and credential were prepared for (attempt 1). */
  readonly primary: string;
  readonly hops: readonly Hop[];
}

const FLAG: Readonly<Record<FallbackReason, string>> = { content_policy: 'p', context_window: 'w' };
const NONE: ReadonlySet<FallbackReason> = new Set();

/** Calls other than chat, as a plan names them (a token starting with `#`). */
const CALL_TOKENS: ReadonlyMap<string, Call> = new Map([
  ['#chat-stream', 'chat-stream'],
  ['#embeddings', 'embeddings'],
  ['#completions', 'completions'],
]);

/** A body in Anthropic's Messages format. */
const API_TOKEN = '#anthropic';

/**
 * `@id #call #api primary hop hop:pw …` — deployment names (schema.ts), which have no spaces, colons
 * or `#`. Their clusters, whose names a mesh makes (`outbound|443||api.openai.com`), travel only in
 * the routing and hop headers.
 */
export function formatPlan(plan: Plan): string {
  let out = plan.id === undefined ? '' : `@${plan.id} `;
  if (plan.call !== 'chat') out += `#${plan.call} `;
  if (plan.api !== 'openai') out += `#${plan.api} `;
  out += plan.primary;
  for (const h of plan.hops) {
    out += ` ${h.deployment}`;
    if (h.serves.size > 0) out += `:${[...h.serves].map((r) => FLAG[r]).join('')}`;
  }
  return out;
}

/** The plan in a header value; null when there is none or it names an unknown deployment. */
export function parsePlan(value: string | undefined, known: ReadonlyMap<string, Deployment>): Plan | null {
  if (value === undefined) return null;
  const entries = value.trim().split(/\s+/);
  const id = entries[0]?.startsWith('@') ? entries.shift()!.slice(1) : undefined;
  const call = entries[0]?.startsWith('#') && entries[0] !== API_TOKEN ? CALL_TOKENS.get(entries.shift()!) : 'chat';
  if (call === undefined) return null;
  const api: ClientApi = entries[0] === API_TOKEN ? (entries.shift(), 'anthropic') : 'openai';
  const [primary, ...rest] = entries;
  if (primary === undefined || !known.has(primary)) return null;
  const hops: Hop[] = [];
  for (const entry of rest) {
    const [name = '', flags = ''] = entry.split(':');
    if (!known.has(name)) return null;
    const serves = new Set<FallbackReason>();
    for (const r of FALLBACK_REASONS) if (flags.includes(FLAG[r])) serves.add(r);
    hops.push({ deployment: name, serves: serves.size === 0 ? NONE : serves });
  }
  return id === undefined ? { call, api, primary, hops } : { id, call, api, primary, hops };
}

/**
 * Where the attempt after one on `current` should go: the first hop after `current` in the plan
 * that `usable` accepts (not cooling, not ejected) and, after a provider error of a fallback kind,
 * that serves it; null when none is left (Envoy then retries within the deployment, on another
 * host when it has one).
 */
export function nextHop(plan: Plan, current: string, usable: (deployment: string) => boolean, reason: FallbackReason | null = null): Hop | null {
  const at = current === plan.primary ? -1 : plan.hops.findIndex((h) => h.deployment === current);
  for (let i = at + 1; i < plan.hops.length; i++) {
    const hop = plan.hops[i]!;
    if ((reason === null || hop.serves.has(reason)) && usable(hop.deployment)) return hop;
  }
  return null;
}

/** The deployments the next `count` attempts would go to, each failing in turn (the last repeats when hops run out). */
export function plannedHops(plan: Plan, count: number, usable: (deployment: string) => boolean): string[] {
  const hops: string[] = [];
  let at = plan.primary;
  for (let i = 0; i < count; i++) {
    at = nextHop(plan, at, usable)?.deployment ?? at;
    hops.push(at);
  }
  return hops;
}

/**
 * The hops a routed request may fall back to, in order: the group's other deployments (ranked by
 * its strategy), then the deployments of its `fallbacks` groups, then those of its content-policy
 * and context-window groups not listed there. A cross-group hop serves a content-filter refusal
 * when its group is a content-policy fallback (any cross-group hop when none is configured), and a
 * context-length error when its group is a context-window fallback (when none is configured: when
 * its window is larger than the primary's).
 */
export function planHops(
  primary: Deployment,
  peers: readonly Deployment[],
  groups: { readonly fallbacks: readonly string[]; readonly contentPolicy: readonly string[]; readonly contextWindow: readonly string[] },
  rankedIn: (group: string) => readonly Deployment[],
): Hop[] {
  const hops: Hop[] = peers.map((d) => ({ deployment: d.name, serves: NONE }));
  const seen = new Set([primary.name, ...hops.map((h) => h.deployment)]);
  const order = [...new Set([...groups.fallbacks, ...groups.contentPolicy, ...groups.contextWindow])];
  for (const group of order) {
    for (const d of rankedIn(group)) {
      if (seen.has(d.name)) continue;
      seen.add(d.name);
      const serves = new Set<FallbackReason>();
      if (groups.contentPolicy.length === 0 ? groups.fallbacks.includes(group) : groups.contentPolicy.includes(group)) serves.add('content_policy');
      if (groups.contextWindow.length === 0 ? groups.fallbacks.includes(group) && d.contextWindow > primary.contextWindow : groups.contextWindow.includes(group)) {
        serves.add('context_window');
      }
      hops.push({ deployment: d.name, serves: serves.size === 0 ? NONE : serves });
    }
  }
  return hops;
}

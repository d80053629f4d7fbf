/**
 * Candidate filters, applied before any strategy. Each removes a deployment for one named reason,
 * with the specifics, so the decision record can say why a deployment was not considered.
 */
import type { Deployment, ModelGroup, RoutingSettings } from '../config/compile.js';
import type { Candidate, Exclusion, ExclusionReason, PolicyEnv, RouteRequest } from './types.js';
import { windowEnd } from './window.js';

export interface FilterContext {
  readonly group: ModelGroup;
  readonly env: PolicyEnv;
  readonly avoid: Avoid;
}

/** Deployments known to be unfit, from outside the load: spent budgets (admission) and Envoy's health view. */
export interface Avoid {
  /** Deployments whose provider or model budget is spent. */
  readonly budgetSpent: ReadonlySet<string>;
  /** Deployments Envoy cannot serve (every host ejected or failing health checks, or no cluster), and why. */
  readonly unhealthy: ReadonlyMap<string, string>;
}

export const NOTHING_TO_AVOID: Avoid = { budgetSpent: new Set(), unhealthy: new Map() };

/** Returns why `c` cannot take `req`, or null when it can. */
type Filter = (req: RouteRequest, c: Candidate, ctx: FilterContext) => { reason: ExclusionReason; detail: string; untilMs?: number } | null;

const capability: Filter = (req, { deployment: d }) => {
  for (const need of req.needs) if (!d.capabilities.has(need)) return { reason: 'capability', detail: `lacks ${need}` };
  return null;
};

/** Each choice's completion shares the prompt's window: `n` does not multiply the reply here. */
const contextWindow: Filter = (req, { deployment: d }) => {
  const reply = req.maxTokens ?? 0;
  if (req.promptTokensBound + reply <= d.contextWindow) return null;
  const needed = promptTokens(req) + reply;
  return needed <= d.contextWindow ? null : { reason: 'context_window', detail: `needs ${needed} tokens, window ${d.contextWindow}` };
};

/**
 * In a group with tagged deployments, a tagged request goes only to deployments carrying all its
 * tags; an untagged one to the `default`-tagged deployments (to any when none is tagged `default`).
 */
const tags: Filter = (req, { deployment: d }, ctx) => {
  if (!ctx.group.tagged) return null;
  if (req.tags.length === 0) return !ctx.group.hasDefaultTag || d.tags.has('default') ? null : { reason: 'tags', detail: 'untagged request, deployment not tagged default' };
  for (const t of req.tags) if (!d.tags.has(t)) return { reason: 'tags', detail: `lacks tag ${t}` };
  return null;
};

const cooldown: Filter = (_req, { load }, ctx) => {
  const left = load.coolingUntilMs - ctx.env.now();
  return left > 0 ? { reason: 'cooldown', detail: `cooling for ${Math.ceil(left)} ms`, untilMs: load.coolingUntilMs } : null;
};

const budget: Filter = (_req, { deployment: d }, ctx) => (ctx.avoid.budgetSpent.has(d.name) ? { reason: 'budget', detail: 'budget spent' } : null);

const health: Filter = (_req, { deployment: d }, ctx) => {
  const why = ctx.avoid.unhealthy.get(d.name);
  return why === undefined ? null : { reason: 'unhealthy', detail: why };
};

/** The request would take the deployment past its RPM or TPM limit in the sliding minute. */
const rateLimit: Filter = (req, { deployment: d, load }, ctx) => {
  if (d.rpmLimit !== null && load.requestsInWindow + 1 > d.rpmLimit) {
    return { reason: 'rate_limit', detail: `rpm ${Math.round(load.requestsInWindow)}/${d.rpmLimit}`, untilMs: windowEnd(ctx.env.now()) };
  }
  if (d.tpmLimit !== null && load.tokensInWindow + estimatedTokens(req) > d.tpmLimit) {
    return { reason: 'rate_limit', detail: `tpm ${Math.round(load.tokensInWindow)}/${d.tpmLimit}`, untilMs: windowEnd(ctx.env.now()) };
  }
  const reported = load.provider;
  if (reported?.requests != null && reported.requests.remaining < 1) {
    return { reason: 'rate_limit', detail: `provider reports 0/${reported.requests.limit} requests left`, untilMs: reported.requests.resetAtMs };
  }
  if (reported?.tokens != null && reported.tokens.remaining < estimatedTokens(req)) {
    return { reason: 'rate_limit', detail: `provider reports ${reported.tokens.remaining}/${reported.tokens.limit} tokens left`, untilMs: reported.tokens.resetAtMs };
  }
  return null;
};

/**
 * When every deployment is only waiting (cooling down or at a rate limit), the earliest time one is
 * free again; null when some exclusion will not pass with time (context window, tags, …).
 */
export function earliestRecovery(excluded: readonly Exclusion[]): number | null {
  let earliest = Infinity;
  for (const e of excluded) {
    if (e.untilMs === undefined) return null;
    earliest = Math.min(earliest, e.untilMs);
  }
  return excluded.length === 0 ? null : earliest;
}

// Cooling before unhealthy: a deployment that is both reports when it recovers.
const FILTERS: readonly Filter[] = [capability, contextWindow, tags, cooldown, health, budget, rateLimit];

/** The prompt's tokens for a fit test: as counted, else the free bound. */
export function promptTokens(req: RouteRequest): number {
  return req.promptTokensCounted ?? req.promptTokensBound;
}

/** Prompt tokens expected: as counted, else about a quarter of the byte bound (≈ 4 bytes a token in English). */
export function estimatedPromptTokens(req: RouteRequest): number {
  return req.promptTokensCounted ?? Math.ceil(req.promptTokensBound / 4);
}

/** The most completion tokens a request may produce: `n` choices of `max_tokens`, or `perChoiceUnset` each when it sets none. */
export function completionTokens(req: RouteRequest, perChoiceUnset: number): number {
  return req.choices * (req.maxTokens ?? perChoiceUnset);
}

/** Tokens a request is expected to use: its prompt estimate plus every choice's max_tokens. */
export function estimatedTokens(req: RouteRequest): number {
  return estimatedPromptTokens(req) + completionTokens(req, 0);
}

/**
 * Tier pools, in groups whose deployments have them: the request's tier lists pools in order of
 * preference; the first pool with any deployment left takes the request, and the others are
 * excluded for `tier`.
 */
function byTier(req: RouteRequest, survivors: Candidate[], excluded: Exclusion[], group: ModelGroup, settings: RoutingSettings): Candidate[] {
  const pools = req.tier === null || !group.tiered ? undefined : settings.tiers.get(req.tier);
  if (pools === undefined) return survivors;
  const inPool = (d: Deployment, pool: string) => d.tier === pool;
  for (const pool of pools) {
    if (!survivors.some((c) => inPool(c.deployment, pool))) continue;
    const kept: Candidate[] = [];
    for (const c of survivors) {
      if (inPool(c.deployment, pool)) kept.push(c);
      else excluded.push({ deployment: c.deployment.name, reason: 'tier', detail: `tier ${req.tier} uses pool ${pool}` });
    }
    return kept;
  }
  for (const c of survivors) excluded.push({ deployment: c.deployment.name, reason: 'tier', detail: `tier ${req.tier} may use ${pools.join(', ')}` });
  return [];
}

export function filterCandidates(
  req: RouteRequest,
  candidates: readonly Candidate[],
  ctx: FilterContext,
  settings: RoutingSettings,
): { survivors: Candidate[]; excluded: Exclusion[] } {
  const survivors: Candidate[] = [];
  const excluded: Exclusion[] = [];
  for (const c of candidates) {
    let why: ReturnType<Filter> = null;
    for (const f of FILTERS) if ((why = f(req, c, ctx)) !== null) break;
    if (why === null) survivors.push(c);
    else excluded.push({ deployment: c.deployment.name, ...why });
  }
  return { survivors: byTier(req, survivors, excluded, ctx.group, settings), excluded };
}

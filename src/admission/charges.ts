/**
 * What a request is charged against before it goes upstream: the RPM, TPM and budgets of its key,
 * its key's team and its tags; the RPM and TPM of its model group and tier; the budgets of the chosen
 * deployment's provider and model group. Tokens are reserved as estimated (prompt + n × max_tokens, or
 * n × the configured default), cost at its worst case on the chosen deployment; both are settled to the
 * real usage when the request ends. Pure: the clock comes in as `nowMs`.
 */
import type { Limits, VirtualKey } from '../auth/keys.js';
import type { Deployment, RouterConfig } from '../config/compile.js';
import type { Charge, Settlement } from '../state/store.js';
import { position, type WindowName } from './windows.js';

export type ChargeKind = 'requests' | 'tokens' | 'cost';

/** A charge with what is needed to explain a refusal and to settle it. */
export interface PlannedCharge extends Charge {
  readonly kind: ChargeKind;
  /** Whose limit: `key demo`, `team a`, `tag free`. */
  readonly owner: string;
  readonly window: WindowName;
  /** When a bucket of this window stops counting. */
  readonly expiresAt: (bucket: number) => number;
  /** A budget of the chosen deployment's provider or model group: it moves when a fallback hop answers. */
  readonly perDeployment?: boolean;
}

export interface AdmissionInput {
  /** The caller's key; null when keys are off (then only group, tier, provider limits apply). */
  readonly key: VirtualKey | null;
  readonly tags: readonly string[];
  readonly tier: string | null;
  /** Prompt tokens (estimated), and the most completion tokens it may produce (routing/filters.ts `completionTokens`). */
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly deployment: Deployment;
  readonly nowMs: number;
}

export const NANOS_PER_USD = 1e9;

export function worstCaseNanos(promptTokens: number, completionTokens: number, d: Deployment): number {
  return Math.ceil(promptTokens * d.price.inputNanosPerToken + completionTokens * d.price.outputNanosPerToken);
}

export type Budget = { readonly usd: number; readonly window: WindowName };

/** The charge of `amount` nano-USD against a budget of `owner` (meter `<id>:usd:<window>`). */
export function budgetCharge(owner: string, id: string, b: Budget, amount: number, nowMs: number, perDeployment = false): PlannedCharge {
  const p = position(b.window, nowMs);
  return { meter: `${id}:usd:${b.window}`, limit: Math.round(b.usd * NANOS_PER_USD), amount, bucket: p.bucket, windowBuckets: p.windowBuckets, ttlMs: p.ttlMs, kind: 'cost', owner, window: b.window, expiresAt: p.expiresAt, perDeployment };
}

export function plannedCharges(input: AdmissionInput, config: RouterConfig): PlannedCharge[] {
  const tokens = input.promptTokens + input.completionTokens;
  const cost = worstCaseNanos(input.promptTokens, input.completionTokens, input.deployment);
  const out: PlannedCharge[] = [];
  const add = (owner: string, meter: string, kind: ChargeKind, window: WindowName, limit: number, amount: number) => {
    const p = position(window, input.nowMs);
    out.push({ meter, limit, amount, bucket: p.bucket, windowBuckets: p.windowBuckets, ttlMs: p.ttlMs, kind, owner, window, expiresAt: p.expiresAt });
  };
  const addLimits = (owner: string, id: string, limits: Limits) => {
    if (limits.rpmLimit !== null) add(owner, `${id}:rpm`, 'requests', '1m', limits.rpmLimit, 1);
    if (limits.tpmLimit !== null) add(owner, `${id}:tpm`, 'tokens', '1m', limits.tpmLimit, tokens);
    for (const b of limits.budgets) out.push(budgetCharge(owner, id, b, cost, input.nowMs));
  };
  const key = input.key;
  if (key !== null) {
    addLimits(`key ${key.name}`, `key:${key.name}`, key);
    const team = key.team === null ? undefined : config.teams.get(key.team);
    if (team !== undefined) addLimits(`team ${key.team}`, `team:${key.team}`, team);
    for (const tag of input.tags) {
      const budgets = config.tagBudgets.get(tag);
      if (budgets !== undefined) addLimits(`tag ${tag}`, `tag:${tag}`, { rpmLimit: null, tpmLimit: null, budgets });
    }
  }
  const group = config.groups.get(input.deployment.modelGroup);
  if (group !== undefined) addLimits(`model group ${group.name}`, `group:${group.name}`, { rpmLimit: group.rpmLimit, tpmLimit: group.tpmLimit, budgets: [] });
  const tier = input.tier === null ? undefined : config.tierLimits.get(input.tier);
  if (tier !== undefined) addLimits(`tier ${input.tier}`, `tier:${input.tier}`, tier);
  out.push(...deploymentBudgetCharges(input.deployment, cost, input.nowMs, config));
  return out;
}

/** Whether a deployment's provider or model group has a budget (what a fallback hop to it is charged to). */
export function hasDeploymentBudgets(d: Deployment, config: RouterConfig): boolean {
  return config.providerBudgets.has(d.provider) || config.groupBudgets.has(d.modelGroup);
}

/** The budgets of a deployment's provider and model group, charged `costNanos`. */
export function deploymentBudgetCharges(d: Deployment, costNanos: number, nowMs: number, config: RouterConfig): PlannedCharge[] {
  const out: PlannedCharge[] = [];
  const add = (owner: string, id: string, budgets: readonly Budget[] | undefined) => {
    for (const b of budgets ?? []) out.push(budgetCharge(owner, id, b, costNanos, nowMs, true));
  };
  add(`provider ${d.provider}`, `provider:${d.provider}`, config.providerBudgets.get(d.provider));
  add(`model group ${d.modelGroup}`, `group:${d.modelGroup}`, config.groupBudgets.get(d.modelGroup));
  return out;
}

/**
 * When the refused charge would fit: walk its buckets oldest first until enough has left the window.
 * `buckets` is what the meter held, oldest first.
 */
export function retryAtMs(c: PlannedCharge, used: number, buckets: ReadonlyArray<readonly [number, number]>): number {
  let left = used;
  for (const [bucket, amount] of buckets) {
    left -= amount;
    if (left + c.amount <= c.limit) return c.expiresAt(bucket);
  }
  return c.expiresAt(c.bucket);
}

/** The reservations' end: real tokens and cost replace the reserved ones (requests stay counted). */
export function settlements(charges: readonly PlannedCharge[], actual: { tokens: number; costNanos: number }): Settlement[] {
  return charges.map((c) => ({
    meter: c.meter,
    bucket: c.bucket,
    ttlMs: c.ttlMs,
    delta: c.kind === 'tokens' ? actual.tokens - c.amount : c.kind === 'cost' ? actual.costNanos - c.amount : 0,
  }));
}

/**
 * The settlements when another deployment than the one charged answered (a fallback hop): the
 * charged deployment's provider and model-group budgets get their reservation back, and the
 * answering one's are charged the real cost, with no reservation of their own.
 */
export function servedElsewhere(charges: readonly PlannedCharge[], settled: readonly Settlement[], served: Deployment, costNanos: number, nowMs: number, config: RouterConfig): Settlement[] {
  const out = settled.map((s, i) => (charges[i]!.perDeployment === true ? { ...s, delta: -charges[i]!.amount } : s));
  for (const c of deploymentBudgetCharges(served, costNanos, nowMs, config)) out.push({ meter: c.meter, bucket: c.bucket, ttlMs: c.ttlMs, delta: costNanos, reserved: false });
  return out;
}

/** `$0.008198`, `$0.01`, `$5`: up to micro-dollars, no trailing zeros. */
export function formatUsd(nanos: number): string {
  return `$${(nanos / NANOS_PER_USD).toFixed(6).replace(/\.?0+$/, '')}`;
}

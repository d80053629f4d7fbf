/**
 * Every budget router.yaml sets — per key, team, tag, provider and model group — as the meter to
 * read for its spend in the current window: what the admin API's `/budgets` reports. Pure: the
 * clock comes in as `nowMs`. Keys added at runtime are not listed (the store keeps them by hash).
 */
import type { RouterConfig } from '../config/compile.js';
import { budgetCharge, NANOS_PER_USD, type Budget, type PlannedCharge } from './charges.js';

export function configuredBudgets(config: RouterConfig, nowMs: number): PlannedCharge[] {
  const out: PlannedCharge[] = [];
  const add = (owner: string, id: string, budgets: readonly Budget[]) => {
    for (const b of budgets) out.push(budgetCharge(owner, id, b, 0, nowMs));
  };
  for (const key of config.keys.values()) add(`key ${key.name}`, `key:${key.name}`, key.budgets);
  for (const [name, team] of config.teams) add(`team ${name}`, `team:${name}`, team.budgets);
  for (const [tag, budgets] of config.tagBudgets) add(`tag ${tag}`, `tag:${tag}`, budgets);
  for (const [provider, budgets] of config.providerBudgets) add(`provider ${provider}`, `provider:${provider}`, budgets);
  for (const [group, budgets] of config.groupBudgets) add(`model group ${group}`, `group:${group}`, budgets);
  return out;
}

export interface BudgetStatus {
  readonly owner: string;
  readonly window: string;
  readonly limit_usd: number;
  readonly spent_usd: number;
  readonly remaining_usd: number;
  /** When a calendar window (day, month) starts again; null for a sliding one, which frees up as it moves. */
  readonly resets_at: string | null;
}

/** `used`: each budget's spend in nano-USD, as the store's `used` reads it (reservations included). */
export function budgetReport(budgets: readonly PlannedCharge[], used: readonly number[]): BudgetStatus[] {
  return budgets.map((b, i) => {
    const spent = used[i] ?? 0;
    return {
      owner: b.owner,
      window: b.window,
      limit_usd: b.limit / NANOS_PER_USD,
      spent_usd: spent / NANOS_PER_USD,
      remaining_usd: Math.max(0, b.limit - spent) / NANOS_PER_USD,
      resets_at: b.windowBuckets === 1 ? new Date(b.expiresAt(b.bucket)).toISOString() : null,
    };
  });
}

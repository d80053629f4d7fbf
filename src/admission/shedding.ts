/**
 * Load shedding by tier (seed 003): when the requested group holds as many requests in flight as a
 * tier's threshold, that tier's new requests are refused or degraded to a cheaper group, while tiers
 * without a threshold (or with a higher one) are still served. Pure: the load comes in.
 */
import type { RouterConfig } from '../config/compile.js';
import type { LoadView } from '../routing/types.js';

export type Shed = { readonly inFlight: number; readonly limit: number; readonly degradeTo: string | null } | null;

export function shedding(config: RouterConfig, tier: string | null, group: string, loads: readonly LoadView[] | null): Shed {
  const rule = tier === null ? undefined : config.shedding.get(tier);
  if (rule === undefined || loads === null) return null;
  let inFlight = 0;
  for (const l of loads) inFlight += l.inFlight;
  if (inFlight < rule.maxInFlight) return null;
  return { inFlight, limit: rule.maxInFlight, degradeTo: rule.degradeTo === group ? null : rule.degradeTo };
}

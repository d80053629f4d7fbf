/**
 * What every provider's rate-limit headers are read into: one window of a limit (its size, what is
 * left, when it frees up), whatever the provider's header names and time format.
 */
import type { LimitWindow } from '../routing/types.js';
import { MAX_RETRY_AFTER_MS } from './retry-after.js';

/** A count as providers write it (decimal digits); NaN for anything else (`0x10`, `1e3`, `Infinity`). */
export function count(text: string | undefined): number {
  const t = text?.trim();
  return t !== undefined && /^\d+(\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
}

/**
 * The window three header values describe; null unless the limit is positive, what is left a count
 * and the reset a time. A reset past an hour is held to one, as a Retry-After is: a deployment a
 * provider reports spent is skipped until its reset, which a bad value must not put off for good.
 */
export function limitWindow(limitText: string | undefined, remainingText: string | undefined, resetAtMs: number | null, nowMs: number): LimitWindow | null {
  const limit = count(limitText);
  const remaining = count(remainingText);
  if (!(limit > 0 && Number.isFinite(limit)) || !Number.isFinite(remaining) || resetAtMs === null) return null;
  return { limit, remaining: Math.min(remaining, limit), resetAtMs: Math.min(Math.max(resetAtMs, nowMs), nowMs + MAX_RETRY_AFTER_MS) };
}

/**
 * Overload shedding at the request-headers phase: when the router falls behind (its event loop
 * lags, or too many requests wait for their routing decision), a new request
 * is refused at once with 503 `overloaded` and `Retry-After`, instead of queueing until Envoy's
 * per-message timeout fails it closed seconds later. Protected tiers are refused only past higher
 * bounds. Pure: the lag and the count come in.
 */
import { RouterError } from '../errors.js';

export interface OverloadLimits {
  readonly maxEventLoopLagMs: number;
  readonly maxInFlight: number;
  /** Tiers (of the virtual key, or routing.default_tier) measured against the protected bounds. */
  readonly protectedTiers: ReadonlySet<string>;
  readonly protectedMaxEventLoopLagMs: number;
  readonly protectedMaxInFlight: number;
  readonly retryAfterSec: number;
}

export interface RouterPressure {
  /** How late the router's event loop runs now, in ms. */
  readonly eventLoopLagMs: number;
  /** Other requests whose stream the router has open without a routing decision yet. */
  readonly inFlight: number;
}

export type OverloadReason = 'event_loop_lag' | 'in_flight';

export type Overload = { readonly reason: OverloadReason; readonly value: number; readonly limit: number } | null;

/** Whether a request of `tier` is refused under `pressure`: the first bound it reaches, or null. */
export function overload(limits: OverloadLimits, tier: string | null, pressure: RouterPressure): Overload {
  const protectedTier = tier !== null && limits.protectedTiers.has(tier);
  const maxLag = protectedTier ? limits.protectedMaxEventLoopLagMs : limits.maxEventLoopLagMs;
  if (pressure.eventLoopLagMs >= maxLag) return { reason: 'event_loop_lag', value: Math.round(pressure.eventLoopLagMs), limit: maxLag };
  const maxInFlight = protectedTier ? limits.protectedMaxInFlight : limits.maxInFlight;
  if (pressure.inFlight >= maxInFlight) return { reason: 'in_flight', value: pressure.inFlight, limit: maxInFlight };
  return null;
}

const DESCRIBED: Record<OverloadReason, (value: number, limit: number) => string> = {
  event_loop_lag: (value, limit) => `its event loop is ${value} ms behind, limit ${limit} ms`,
  in_flight: (value, limit) => `${value} requests await a routing decision, limit ${limit}`,
};

/** The client's answer: 503 `overloaded` with Retry-After, which SDKs retry. */
export function overloadedError(shed: NonNullable<Overload>, retryAfterSec: number): RouterError {
  return new RouterError('overloaded', `The gateway is overloaded (${DESCRIBED[shed.reason](shed.value, shed.limit)}); retry after ${retryAfterSec} s.`, null, retryAfterSec);
}

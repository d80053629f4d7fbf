/**
 * When a deployment should be skipped after an attempt (every attempt Envoy makes, fallbacks
 * included, reaches the router's upstream filter):
 *   - a 429 cools it until the provider's `Retry-After`, else for `cooldown_ms`;
 *   - `allowed_fails` failures in a row (5xx, connection refused, reset, timeout), within
 *     `allowed_fails_window_ms`, cool it for `cooldown_ms`. A success in between starts the count
 *     again: one bad host of a deployment whose other hosts answer is Envoy's to eject (outlier
 *     detection), not a reason to stop using the deployment.
 * The store keeps the latest deadline, so a later, shorter cooldown never shortens an earlier one.
 * Failures are counted per router process; the cooldown itself is shared by every replica.
 */
import type { RoutingSettings } from '../config/compile.js';

export type AttemptResult =
  | { readonly kind: 'ok' }
  /** The provider's 4xx other than 429: the request's fault, not the deployment's. */
  | { readonly kind: 'refused' }
  | { readonly kind: 'rate_limited'; readonly retryAtMs: number | null }
  | { readonly kind: 'failed' };

export function attemptResult(status: number | null, retryAtMs: number | null): AttemptResult {
  if (status === null || status >= 500) return { kind: 'failed' };
  if (status === 429) return { kind: 'rate_limited', retryAtMs };
  return status >= 400 ? { kind: 'refused' } : { kind: 'ok' };
}

/** Failure times per deployment since its last success, within the window; a bounded list each, oldest first. */
export class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly windowMs: number,
    private readonly max: number,
  ) {}

  /** Records a failure; returns how many the deployment had within the window, this one included. */
  add(deployment: string, nowMs: number): number {
    let times = this.failures.get(deployment);
    if (times === undefined) this.failures.set(deployment, (times = []));
    times.push(nowMs);
    while (times.length > 0 && (times[0]! <= nowMs - this.windowMs || times.length > this.max)) times.shift();
    return times.length;
  }

  succeeded(deployment: string): void {
    this.failures.delete(deployment);
  }
}

/** The cooldown deadline this attempt earns its deployment; null for none. */
export function cooldownAfter(result: AttemptResult, deployment: string, nowMs: number, settings: RoutingSettings, failures: FailureWindow): number | null {
  switch (result.kind) {
    case 'rate_limited':
      return result.retryAtMs ?? nowMs + settings.cooldownMs;
    case 'failed':
      return failures.add(deployment, nowMs) >= settings.allowedFails ? nowMs + settings.cooldownMs : null;
    case 'ok':
      failures.succeeded(deployment);
      return null;
    default:
      return null;
  }
}

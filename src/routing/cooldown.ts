/**
 * When a deployment should be skipped after a response: a 429 (rate limited) or a 503 (overloaded or
 * down, after Envoy's retries) cools it for `cooldownMs`. The store keeps the latest deadline, so a
 * later, shorter cooldown never shortens an earlier one.
 */
export function coolingUntil(status: number, nowMs: number, cooldownMs: number): number | null {
  return status === 429 || status === 503 ? nowMs + cooldownMs : null;
}

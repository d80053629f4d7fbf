/**
 * The sliding minute RPM and TPM are counted in: two fixed minutes, the current one in full and the
 * previous one in proportion to how much of it the sliding minute still covers.
 */
export const WINDOW_MS = 60_000;

/** The fixed minute a time falls in. */
export function windowIndex(nowMs: number): number {
  return Math.floor(nowMs / WINDOW_MS);
}

export function slidingCount(current: number, previous: number, nowMs: number): number {
  return current + previous * (1 - (nowMs % WINDOW_MS) / WINDOW_MS);
}

/** When the current fixed minute ends: the earliest a full window starts to free up. */
export function windowEnd(nowMs: number): number {
  return (windowIndex(nowMs) + 1) * WINDOW_MS;
}

/**
 * The windows limits are counted in. A sliding window is 60 buckets (a 1-minute window has 1-second
 * buckets, a day 24-minute ones); a request counts in its bucket, and a bucket stops counting once
 * the window has moved past it — so RPM and TPM are exact to the second. A calendar window (UTC
 * day or month) is one bucket per period.
 */
export const WINDOWS = ['1m', '1h', '1d', '7d', '30d', 'day', 'month'] as const;
export type WindowName = (typeof WINDOWS)[number];

const MINUTE = 60_000;
const SLIDING_MS: Partial<Record<WindowName, number>> = { '1m': MINUTE, '1h': 60 * MINUTE, '1d': 1440 * MINUTE, '7d': 7 * 1440 * MINUTE, '30d': 30 * 1440 * MINUTE };
const BUCKETS = 60;
/** A meter outlives its window by this much, so a reservation held by a long stream can still be settled. */
const SETTLE_MARGIN_MS = 3_600_000;

export interface WindowPosition {
  /** The bucket a request made now counts in. */
  readonly bucket: number;
  /** How many buckets, ending with `bucket`, the window holds. */
  readonly windowBuckets: number;
  /** When bucket `b` stops counting. */
  expiresAt(b: number): number;
  /** How long a meter must be kept after a write. */
  readonly ttlMs: number;
}

export function position(window: WindowName, nowMs: number): WindowPosition {
  const sliding = SLIDING_MS[window];
  if (sliding !== undefined) {
    const bucketMs = sliding / BUCKETS;
    return {
      bucket: Math.floor(nowMs / bucketMs),
      windowBuckets: BUCKETS,
      expiresAt: (b) => (b + BUCKETS) * bucketMs,
      ttlMs: sliding + bucketMs + SETTLE_MARGIN_MS,
    };
  }
  const d = new Date(nowMs);
  if (window === 'day') {
    const day = Math.floor(nowMs / (1440 * MINUTE));
    return { bucket: day, windowBuckets: 1, expiresAt: (b) => (b + 1) * 1440 * MINUTE, ttlMs: 1440 * MINUTE + SETTLE_MARGIN_MS };
  }
  const month = d.getUTCFullYear() * 12 + d.getUTCMonth();
  const start = (m: number) => Date.UTC(Math.floor(m / 12), m % 12, 1);
  return { bucket: month, windowBuckets: 1, expiresAt: (b) => start(b + 1), ttlMs: 32 * 1440 * MINUTE + SETTLE_MARGIN_MS };
}

/**
 * OpenAI's rate-limit headers (also sent by Azure OpenAI and many compatible servers):
 * `x-ratelimit-{limit,remaining}-{requests,tokens}` and `x-ratelimit-reset-{requests,tokens}` as a
 * duration such as `1s`, `6m0s` or `250ms`.
 */
import type { LimitWindow, ProviderLimits } from '../../routing/types.js';
import { limitWindow } from '../rate-limit-window.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds in an OpenAI duration; null when it is not one. */
export function parseDuration(text: string): number | null {
  let ms = 0;
  let matched = '';
  for (const m of text.matchAll(PART)) {
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched += m[0];
  }
  return matched.length > 0 && matched === text.trim() && Number.isFinite(ms) ? ms : null;
}

/** `1s`, `6m0s`, `250ms`: the same format, for the router's own limit headers and the mock. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = ms / 1000;
  return s < 60 ? `${Number(s.toFixed(3))}s` : `${Math.floor(s / 60)}m${Number((s % 60).toFixed(3))}s`;
}

/** Every header `rateLimitsOf` reads: Envoy's attempt-failed filter must forward them (check-envoy). */
export const RATE_LIMIT_HEADERS = (['requests', 'tokens'] as const).flatMap((kind) => ['limit', 'remaining', 'reset'].map((part) => `x-ratelimit-${part}-${kind}`));

function window(headers: Readonly<Record<string, string>>, kind: 'requests' | 'tokens', nowMs: number): LimitWindow | null {
  const reset = parseDuration(headers[`x-ratelimit-reset-${kind}`] ?? '');
  return limitWindow(headers[`x-ratelimit-limit-${kind}`], headers[`x-ratelimit-remaining-${kind}`], reset === null ? null : nowMs + reset, nowMs);
}

/** The limits a response reports; null when it reports none. */
export function rateLimitsOf(headers: Readonly<Record<string, string>>, nowMs: number): ProviderLimits | null {
  const requests = window(headers, 'requests', nowMs);
  const tokens = window(headers, 'tokens', nowMs);
  return requests === null && tokens === null ? null : { requests, tokens };
}

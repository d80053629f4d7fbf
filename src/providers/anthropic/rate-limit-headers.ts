/**
 * Anthropic's rate-limit headers: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
 * {limit,remaining,reset}`, the reset an RFC 3339 time (`2026-01-01T12:00:59Z`). `tokens-*` is the
 * combined window (input and output together, the most restrictive when several limits apply);
 * `input-tokens-*` and `output-tokens-*` are the windows Anthropic refuses on separately.
 *
 * The router keeps one token window per deployment (ProviderLimits.tokens), counted in a request's
 * prompt and completion tokens together. Anthropic's three map onto it as the combined window
 * scaled to the tightest of the three: limit = `tokens-limit` (input + output limits without it),
 * remaining = limit × the smallest remaining/limit, reset = that window's. So a spent output window
 * (which the combined one hides: 16k of 96k) leaves the deployment no headroom and excludes it until
 * its reset, while a request is still measured against a window in the units it is estimated in.
 *
 * A reset is a time on Anthropic's clock: it is read as a delay from the response's `date` (same
 * clock, whole seconds, so at most a second late), which a router whose clock is off by seconds
 * still counts right; without a readable `date`, as a time on the router's clock.
 */
import type { LimitWindow, ProviderLimits } from '../../routing/types.js';
import { limitWindow } from '../rate-limit-window.js';

const KINDS = ['requests', 'tokens', 'input-tokens', 'output-tokens'] as const;
type Kind = (typeof KINDS)[number];

/** Every header `rateLimitsOf` reads: Envoy's attempt-failed filter must forward them (check-envoy). */
export const RATE_LIMIT_HEADERS = [...KINDS.flatMap((kind) => ['limit', 'remaining', 'reset'].map((part) => `anthropic-ratelimit-${kind}-${part}`)), 'date'];

/** RFC 3339 as Anthropic writes it, with a zone; nothing Date.parse would guess at. */
const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** Ms since the epoch of an RFC 3339 time; null for anything else. */
export function parseRfc3339(text: string | undefined): number | null {
  const t = text?.trim();
  if (t === undefined || !RFC_3339.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/** The ms to add to a time on Anthropic's clock for the router's: 0 without a readable `date`. */
function clockOffsetMs(headers: Readonly<Record<string, string>>, nowMs: number): number {
  const date = Date.parse(headers.date ?? '');
  return Number.isNaN(date) ? 0 : nowMs - date;
}

function window(headers: Readonly<Record<string, string>>, kind: Kind, nowMs: number, offsetMs: number): LimitWindow | null {
  const at = `anthropic-ratelimit-${kind}-`;
  const reset = parseRfc3339(headers[`${at}reset`]);
  return limitWindow(headers[`${at}limit`], headers[`${at}remaining`], reset === null ? null : reset + offsetMs, nowMs);
}

const share = (w: LimitWindow): number => w.remaining / w.limit;

/** The combined token window scaled to the tightest of the combined, input and output ones (above). */
function tokensWindow(headers: Readonly<Record<string, string>>, nowMs: number, offsetMs: number): LimitWindow | null {
  const combined = window(headers, 'tokens', nowMs, offsetMs);
  const input = window(headers, 'input-tokens', nowMs, offsetMs);
  const output = window(headers, 'output-tokens', nowMs, offsetMs);
  let tightest: LimitWindow | null = null;
  for (const w of [combined, input, output]) if (w !== null && (tightest === null || share(w) < share(tightest))) tightest = w;
  if (tightest === null) return null;
  // Two finite limits can add up to Infinity (`9…9` × 308 digits each): held to the largest finite one.
  const limit = combined?.limit ?? (input !== null && output !== null ? Math.min(input.limit + output.limit, Number.MAX_VALUE) : tightest.limit);
  return { limit, remaining: Math.floor(limit * share(tightest)), resetAtMs: tightest.resetAtMs };
}

/** The limits a response reports; null when it reports none. */
export function rateLimitsOf(headers: Readonly<Record<string, string>>, nowMs: number): ProviderLimits | null {
  const offsetMs = clockOffsetMs(headers, nowMs);
  const requests = window(headers, 'requests', nowMs, offsetMs);
  const tokens = tokensWindow(headers, nowMs, offsetMs);
  return requests === null && tokens === null ? null : { requests, tokens };
}

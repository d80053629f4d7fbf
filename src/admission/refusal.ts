/**
 * How admission answers: the error for a refused request (429, naming the limit and when it frees
 * up) and OpenAI's `x-ratelimit-*` headers, on refusals and on the responses of admitted requests.
 */
import { RouterError } from '../errors.js';
import { formatDuration } from '../providers/openai/rate-limit-headers.js';
import { formatUsd, retryAtMs, type PlannedCharge } from './charges.js';

type Header = readonly [string, string];

/** `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the first requests and tokens charges. */
export function limitHeaders(charges: readonly PlannedCharge[], used: readonly number[], nowMs: number): Header[] {
  const out: Header[] = [];
  for (const kind of ['requests', 'tokens'] as const) {
    const i = charges.findIndex((c) => c.kind === kind);
    if (i === -1) continue;
    const c = charges[i]!;
    out.push(
      [`x-ratelimit-limit-${kind}`, String(c.limit)],
      [`x-ratelimit-remaining-${kind}`, String(Math.max(0, c.limit - used[i]!))],
      // Everything counted now has left the window once the current bucket has.
      [`x-ratelimit-reset-${kind}`, formatDuration(c.expiresAt(c.bucket) - nowMs)],
    );
  }
  return out;
}

export function refusal(c: PlannedCharge, used: number, buckets: ReadonlyArray<readonly [number, number]>, nowMs: number): RouterError {
  const at = retryAtMs(c, used, buckets);
  const retryAfterSec = Math.max(1, Math.ceil((at - nowMs) / 1000));
  if (c.kind === 'cost') {
    return new RouterError(
      'budget_exceeded',
      `The ${c.window} budget of ${c.owner} is spent: ${formatUsd(used)} of ${formatUsd(c.limit)} used. It has room again at ${new Date(at).toISOString()} (in ${retryAfterSec} s).`,
      null,
      retryAfterSec,
    );
  }
  const unit = c.kind === 'requests' ? 'requests' : 'tokens';
  return new RouterError(
    'rate_limited',
    `Rate limit of ${c.owner} reached: ${used} of ${c.limit} ${unit} per minute used, this request needs ${c.amount}. Retry after ${retryAfterSec} s.`,
    null,
    retryAfterSec,
    [
      [`x-ratelimit-limit-${unit}`, String(c.limit)],
      [`x-ratelimit-remaining-${unit}`, String(Math.max(0, c.limit - used))],
      [`x-ratelimit-reset-${unit}`, formatDuration(at - nowMs)],
    ],
  );
}

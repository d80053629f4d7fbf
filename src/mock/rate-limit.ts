/**
 * The mock's own per-minute limits, reported like OpenAI does: `x-ratelimit-{limit,remaining,reset}-
 * {requests,tokens}` on every answer, and 429 with `Retry-After` once a limit is spent. Fixed
 * one-minute windows; a request's tokens (prompt + completion) count when it is accepted. The
 * caller passes the time (the mock server's `limitsClock`).
 */
import { formatDuration } from '../providers/openai/rate-limit-headers.js';

const MINUTE_MS = 60_000;

export interface Limits {
  readonly requestsPerMinute?: number | undefined;
  readonly tokensPerMinute?: number | undefined;
}

export class MinuteLimiter {
  private window = -1;
  private requests = 0;
  private tokens = 0;

  /** Whether a request costing `tokens` may run now, and the headers to answer with either way. */
  take(limits: Limits, tokens: number, nowMs: number): { allowed: boolean; headers: Record<string, string> } {
    const index = Math.floor(nowMs / MINUTE_MS);
    if (index !== this.window) {
      this.window = index;
      this.requests = 0;
      this.tokens = 0;
    }
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limits;
    const allowed = (rpm === undefined || this.requests < rpm) && (tpm === undefined || this.tokens < tpm);
    if (allowed) {
      this.requests += 1;
      this.tokens += tokens;
    }
    const reset = formatDuration((index + 1) * MINUTE_MS - nowMs);
    const headers: Record<string, string> = {};
    if (rpm !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(rpm);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, rpm - this.requests));
      headers['x-ratelimit-reset-requests'] = reset;
    }
    if (tpm !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(tpm);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, tpm - this.tokens));
      headers['x-ratelimit-reset-tokens'] = reset;
    }
    if (!allowed) headers['retry-after'] = String(Math.ceil(((index + 1) * MINUTE_MS - nowMs) / 1000));
    return { allowed, headers };
  }
}

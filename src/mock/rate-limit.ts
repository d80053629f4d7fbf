/**
 * The mock's own per-minute limits: requests, tokens (prompt + completion), and Anthropic's separate
 * input and output token windows. Fixed one-minute windows; a request's tokens count when it is
 * accepted, and one is refused once any window is spent. Each wire format reports the windows in
 * its provider's headers (`WireFormat.limitHeaders`). The caller passes the time (the mock server's
 * `limitsClock`).
 */
const MINUTE_MS = 60_000;

export interface Limits {
  readonly requestsPerMinute?: number | undefined;
  readonly tokensPerMinute?: number | undefined;
  readonly inputTokensPerMinute?: number | undefined;
  readonly outputTokensPerMinute?: number | undefined;
}

/** One window's size and what is left of it; null for a window the instance does not limit. */
export interface LimitCount {
  readonly limit: number;
  readonly remaining: number;
}

/** The windows after a request was counted (or refused), for a format to write in its headers. */
export interface LimitReport {
  readonly requests: LimitCount | null;
  readonly tokens: LimitCount | null;
  readonly inputTokens: LimitCount | null;
  readonly outputTokens: LimitCount | null;
  /** When the minute ends, and how long until then. */
  readonly resetAtMs: number;
  readonly resetInMs: number;
  /** The request was refused: its answer is the format's 429. */
  readonly refused: boolean;
}

const report = (limit: number | undefined, used: number): LimitCount | null => (limit === undefined ? null : { limit, remaining: Math.max(0, limit - used) });

export class MinuteLimiter {
  private window = -1;
  private requests = 0;
  private input = 0;
  private output = 0;

  /** Whether a request costing `inputTokens` + `outputTokens` may run now, and the windows either way. */
  take(limits: Limits, inputTokens: number, outputTokens: number, nowMs: number): LimitReport {
    const index = Math.floor(nowMs / MINUTE_MS);
    if (index !== this.window) {
      this.window = index;
      this.requests = 0;
      this.input = 0;
      this.output = 0;
    }
    const { requestsPerMinute: rpm, tokensPerMinute: tpm, inputTokensPerMinute: itpm, outputTokensPerMinute: otpm } = limits;
    const under = (limit: number | undefined, used: number): boolean => limit === undefined || used < limit;
    const allowed = under(rpm, this.requests) && under(tpm, this.input + this.output) && under(itpm, this.input) && under(otpm, this.output);
    if (allowed) {
      this.requests += 1;
      this.input += inputTokens;
      this.output += outputTokens;
    }
    const resetAtMs = (index + 1) * MINUTE_MS;
    return {
      requests: report(rpm, this.requests),
      tokens: report(tpm, this.input + this.output),
      inputTokens: report(itpm, this.input),
      outputTokens: report(otpm, this.output),
      resetAtMs,
      resetInMs: resetAtMs - nowMs,
      refused: !allowed,
    };
  }
}

/** `Retry-After` in whole seconds until the minute ends, on a refusal: what OpenAI and Anthropic send. */
export function retryAfterOf(r: LimitReport): Record<string, string> {
  return r.refused ? { 'retry-after': String(Math.ceil(r.resetInMs / 1000)) } : {};
}

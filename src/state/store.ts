/**
 * Shared state behind one interface: the in-memory store serves a single router, the Redis store
 * many replicas. Both pass the same contract suite (test/support/contracts/state-store.ts).
 */

/** One finished (or abandoned) request, as billed. Tokens are what the provider reported. */
export interface UsageRecord {
  readonly requestId: string;
  readonly timestampMs: number;
  /** Who pays: a virtual key id once keys exist; today a hash of the bearer token, or `anonymous`. */
  readonly keyId: string;
  readonly requestedModel: string;
  readonly deployment: string;
  readonly provider: string;
  readonly providerModel: string;
  readonly responseModel: string | null;
  readonly stream: boolean;
  readonly status: number;
  /** False when the stream ended before the provider's final usage report (cancel, cut, error). */
  readonly complete: boolean;
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
  readonly totalTokens: number;
  /** Cost in nano-USD (1e-9 $), an integer so aggregates add up exactly. */
  readonly costNanos: number;
  /** From request headers to the end of the response, as the router saw it. */
  readonly latencyMs: number;
  /** To the response headers (time to first byte); null when none came. */
  readonly ttfbMs: number | null;
  /** To the first response body bytes: the first token of a stream; null when none came. */
  readonly ttftMs: number | null;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costNanos: number;
}

export const USAGE_DIMENSIONS = ['key', 'model', 'deployment'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** Adds the record to the per-day aggregates of every dimension and appends it to the log, atomically. */
  recordUsage(record: UsageRecord): Promise<void>;
  usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals>;
  /** The newest `limit` records, oldest first. */
  usageLog(limit: number): Promise<UsageRecord[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The UTC calendar day a record counts towards, `YYYY-MM-DD`. */
export function usageDay(timestampMs: number): string {
  return new Date(timestampMs).toISOString().slice(0, 10);
}

/** The id of `record` along `dimension`: the one place that maps a dimension to a record field. */
export function dimensionId(record: UsageRecord, dimension: UsageDimension): string {
  switch (dimension) {
    case 'key':
      return record.keyId;
    case 'model':
      return record.requestedModel;
    case 'deployment':
      return record.deployment;
  }
}

export function emptyTotals(): UsageTotals {
  return { requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costNanos: 0 };
}

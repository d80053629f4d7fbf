/**
 * Shared state behind one interface: the in-memory store serves a single router, the Redis store
 * many replicas. Both pass the same contract suite (test/support/contracts/state-store.ts).
 */
import type { VirtualKeyRecord } from '../auth/keys.js';
import type { LoadView, ProviderLimits } from '../routing/types.js';

export type { LoadView, ProviderLimits };
export { slidingCount, windowIndex } from '../routing/window.js';

/** One finished (or abandoned) request, as billed. Tokens are what the provider reported. */
export interface UsageRecord {
  /** Unique per record (made by the router): a replayed record is counted once. */
  readonly recordId: string;
  /** Envoy's x-request-id, for finding the request in Envoy's access log. */
  readonly requestId: string;
  readonly timestampMs: number;
  /** Who pays: the virtual key's name; with keys off, `anonymous` or a token's hash prefix (auth/anonymous.ts). */
  readonly keyId: string;
  /** The key's team; null without one (or with keys off). */
  readonly team: string | null;
  /** The tags the request counts under: its key's, and those it sent that the config knows (features.ts). */
  readonly tags: readonly string[];
  readonly requestedModel: string;
  readonly deployment: string;
  readonly provider: string;
  readonly providerModel: string;
  readonly responseModel: string | null;
  readonly stream: boolean;
  readonly status: number;
  /**
   * The client got the whole answer with the provider's usage report: false for a cancel, a cut, a
   * stream without its end and one the router ended with an error event.
   */
  readonly complete: boolean;
  /** The usage is the router's estimate of a stream cut before the provider's report (what was delivered). */
  readonly usageEstimated: boolean;
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  readonly reasoningTokens: number;
  readonly totalTokens: number;
  /** Cost in nano-USD (1e-9 $), an integer so aggregates add up exactly. */
  readonly costNanos: number;
  /**
   * What the response cache did: answered the request (`hit`, at cost 0), sent it on and stored or
   * offered the answer (`miss`), or stayed out (`bypass`); null when its group does not cache.
   */
  readonly cache: { readonly kind: 'exact' | 'semantic'; readonly result: CacheResult; readonly similarity?: number | null } | null;
  /** A cache hit: what the provider charged for the stored answer, saved this time (nano-USD); 0 otherwise. */
  readonly savedCostNanos: number;
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
  /** Requests answered from the cache, requests the cache sent on to a provider, and what the hits saved (nano-USD). */
  cacheHits: number;
  cacheMisses: number;
  savedCostNanos: number;
}

export type CacheResult = 'hit' | 'miss' | 'bypass';

export const USAGE_DIMENSIONS = ['key', 'team', 'tag', 'model', 'deployment', 'provider'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

/** A request that was sent to a deployment has ended, however it ended. */
export interface RequestEnd {
  readonly deployment: string;
  readonly startedMs: number;
  readonly endedMs: number;
  /** What `requestStarted` put in the window, now replaced by `actualTokens`. */
  readonly estimatedTokens: number;
  readonly actualTokens: number;
  /** A latency sample, only for a complete successful response (errors say nothing of speed). */
  readonly sample: { readonly latencyMs: number; readonly ttftMs: number | null } | null;
}

export interface LoadOptions {
  /** Latency is the mean of at most this many newest samples… */
  readonly latencySamples: number;
  /** …each counted for this long. */
  readonly latencyMaxAgeMs: number;
}

/** One limit a request is charged against: `amount` into the current bucket of one meter. */
export interface Charge {
  /** The meter's name, e.g. `key:demo:tpm:1m`. */
  readonly meter: string;
  readonly limit: number;
  /** An integer (requests, tokens or nano-USD). */
  readonly amount: number;
  readonly bucket: number;
  /** Buckets `bucket - windowBuckets + 1` … `bucket` count; older ones are dropped. */
  readonly windowBuckets: number;
  readonly ttlMs: number;
}

export type AdmitResult =
  /** Every charge fitted and is now reserved; `used` per charge, this request included. */
  | { readonly ok: true; readonly used: readonly number[] }
  /** Nothing was reserved: charge `refused` would pass its limit; what it holds, bucket by bucket. */
  | { readonly ok: false; readonly refused: number; readonly used: number; readonly buckets: ReadonlyArray<readonly [bucket: number, amount: number]> };

/** The end of a reservation: `delta` (actual − reserved) into the bucket it was made in. */
export interface Settlement {
  readonly meter: string;
  readonly bucket: number;
  readonly delta: number;
  readonly ttlMs: number;
  /** false: a charge no reservation stands for (the budgets of a fallback hop that answered); no open reservation to close. */
  readonly reserved?: boolean;
}

/**
 * This replica's own in-flight count per deployment, kept in the process whatever the store's
 * health: a request that starts while Redis answers and ends while it does not must still leave the
 * count (ResilientStore counts through this while its breaker is open). Returns the new count.
 */
export interface InFlightCounter {
  countInFlight(deployment: string, delta: 1 | -1): number;
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Live load of each deployment, aligned with `deployments`, across every replica sharing the
   * store. A store that holds it in this process answers at once, without a promise: a request it
   * routes is decided in the turn its body arrives (request-body.ts, `load`).
   */
  loadOf(deployments: readonly string[], nowMs: number): LoadView[] | Promise<LoadView[]>;
  /** A request goes to `deployment`: one more in flight, one request and its estimated tokens in the window. */
  requestStarted(deployment: string, nowMs: number, estimatedTokens: number): Promise<void>;
  /** The request ended: one less in flight, the window's tokens corrected, a latency sample kept. */
  requestEnded(end: RequestEnd): Promise<void>;
  /** What the provider's last response said of its limits for `deployment`; replaces the previous report. */
  recordProviderLimits(deployment: string, limits: ProviderLimits): Promise<void>;
  /** Skip the deployment until then; the latest deadline wins, so a later, shorter cooldown never shortens it. */
  coolDown(deployment: string, untilMs: number): Promise<void>;
  /** Adds the record to the per-day aggregates of every dimension and appends it to the log, atomically. */
  recordUsage(record: UsageRecord): Promise<void>;
  usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals>;
  /** The newest `limit` records, oldest first. */
  usageLog(limit: number): Promise<UsageRecord[]>;
  /** Reserves every charge or none, atomically across replicas, as reservation `id`: the admission check. */
  admit(id: string, charges: readonly Charge[]): Promise<AdmitResult>;
  /** Settles reservation `id` once: real amounts replace the reserved ones; again, or unknown, it is a no-op. */
  settle(id: string, settlements: readonly Settlement[]): Promise<void>;
  /** What each charge's meter holds in its window now (the amounts are not reserved); at once, like `loadOf`, from a store in this process. */
  used(charges: readonly Charge[]): number[] | Promise<number[]>;
  /** Reservations on a meter not settled yet (0 when every request has ended). */
  openReservations(meter: string): Promise<number>;
  /** A virtual key added at runtime, by the SHA-256 of the key; null when there is none. */
  getKey(hash: string): Promise<VirtualKeyRecord | null>;
  /** Adds or replaces a runtime key (by hash). */
  putKey(record: VirtualKeyRecord): Promise<void>;
  /** Removes a runtime key; false when there was none. */
  deleteKey(hash: string): Promise<boolean>;
  /** A stored response (cache/entry.ts) by its key (`namespace/name`), or null. */
  cacheGet(key: string, nowMs: number): Promise<Buffer | null>;
  cacheSet(key: string, value: Buffer, ttlMs: number, nowMs: number): Promise<void>;
  /** false when there was none. */
  cacheDelete(key: string): Promise<boolean>;
  /** Claims the right to answer `key` for `ttlMs`, unless someone (any replica) holds it: true when this caller has it. */
  cacheClaim(key: string, ttlMs: number, nowMs: number): Promise<boolean>;
  cacheRelease(key: string): Promise<void>;
  /** At most `limit` stored keys starting with `prefix`. */
  cacheKeys(prefix: string, limit: number, nowMs: number): Promise<string[]>;
  /** Deletes every stored key starting with `prefix`; how many there were. */
  cachePurge(prefix: string): Promise<number>;
  /** Appends a semantic-cache vector record (cache/semantic.ts) to the log every router tails, keeping about the last `maxLen`. */
  semanticAppend(record: string, maxLen: number): Promise<void>;
  /** Up to `limit` records after `cursor` (the cursor of the last one read; '0' from the start), oldest first. */
  semanticRead(cursor: string, limit: number): Promise<Array<{ readonly cursor: string; readonly record: string }>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;
/** The last day formatted: every record of a day asks for the same one (a Date and an ISO string less per record). */
let lastDay = { index: NaN, text: '' };

/** The UTC calendar day a record counts towards, `YYYY-MM-DD`. */
export function usageDay(timestampMs: number): string {
  const index = Math.floor(timestampMs / DAY_MS);
  if (index !== lastDay.index) lastDay = { index, text: new Date(index * DAY_MS).toISOString().slice(0, 10) };
  return lastDay.text;
}

/**
 * The ids of `record` along `dimension` — none (no team), one, or several (tags): the one place
 * that maps a dimension to record fields.
 */
export function dimensionIds(record: UsageRecord, dimension: UsageDimension): readonly string[] {
  switch (dimension) {
    case 'key':
      return [record.keyId];
    case 'team':
      return record.team === null ? [] : [record.team];
    case 'tag':
      return record.tags;
    case 'model':
      return [record.requestedModel];
    case 'deployment':
      return [record.deployment];
    case 'provider':
      return [record.provider];
  }
}

/** The provider's report with the windows that have reset since left out; null when none is left. */
export function currentLimits(limits: ProviderLimits | null, nowMs: number): ProviderLimits | null {
  if (limits === null) return null;
  const requests = limits.requests !== null && limits.requests.resetAtMs > nowMs ? limits.requests : null;
  const tokens = limits.tokens !== null && limits.tokens.resetAtMs > nowMs ? limits.tokens : null;
  return requests === null && tokens === null ? null : { requests, tokens };
}

/** When the whole report is out of date. */
export function limitsExpireAt(limits: ProviderLimits): number {
  return Math.max(limits.requests?.resetAtMs ?? 0, limits.tokens?.resetAtMs ?? 0);
}

export interface LatencySample {
  readonly atMs: number;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
}

/** Means of the samples (newest first) younger than the maximum age; null where there are none. */
export function latencyMeans(samples: readonly LatencySample[], nowMs: number, o: LoadOptions): { latencyMs: number | null; ttftMs: number | null } {
  let n = 0;
  let total = 0;
  let nTtft = 0;
  let ttft = 0;
  for (let i = 0; i < samples.length && i < o.latencySamples; i++) {
    const s = samples[i]!;
    if (nowMs - s.atMs > o.latencyMaxAgeMs) break;
    n += 1;
    total += s.latencyMs;
    if (s.ttftMs !== null) {
      nTtft += 1;
      ttft += s.ttftMs;
    }
  }
  return { latencyMs: n === 0 ? null : total / n, ttftMs: nTtft === 0 ? null : ttft / nTtft };
}

export function emptyTotals(): UsageTotals {
  return { requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costNanos: 0, cacheHits: 0, cacheMisses: 0, savedCostNanos: 0 };
}

/** The embedded store for a single router: no dependencies, state lost on restart. */
import type { VirtualKeyRecord } from '../auth/keys.js';
import {
  currentLimits,
  dimensionIds,
  emptyTotals,
  latencyMeans,
  slidingCount,
  USAGE_DIMENSIONS,
  usageDay,
  windowIndex,
  type LatencySample,
  type AdmitResult,
  type Charge,
  type LoadOptions,
  type Settlement,
  type LoadView,
  type ProviderLimits,
  type RequestEnd,
  type InFlightCounter,
  type StateStore,
  type UsageDimension,
  type UsageRecord,
  type UsageTotals,
} from './store.js';
import { Expiring } from './expiring.js';
import { RingMap } from './ring-map.js';

interface DeploymentLoad {
  inFlight: number;
  /** The fixed minute `requests[0]` and `tokens[0]` count; index 1 is the minute before. */
  window: number;
  requests: [number, number];
  tokens: [number, number];
  /** Newest first. */
  samples: LatencySample[];
  coolingUntilMs: number;
  provider: ProviderLimits | null;
}

export class MemoryStore implements StateStore, InFlightCounter {
  readonly kind = 'memory' as const;
  /** Dimension → id → day → totals: a record's are found with its own strings, none made per record. */
  private readonly totals = new Map<UsageDimension, Map<string, Map<string, UsageTotals>>>();
  /** A ring buffer: `log[next % max]` is overwritten once full, so memory stays bounded. */
  private readonly log: UsageRecord[] = [];
  private next = 0;
  private readonly load = new Map<string, DeploymentLoad>();
  private readonly cached = new Expiring<Buffer>();
  private readonly semantic: Array<{ cursor: string; record: string }> = [];
  private semanticNext = 0;
  private readonly claims = new Expiring<true>();

  constructor(
    private readonly maxLogEntries: number,
    private readonly loadOptions: LoadOptions,
  ) {
    this.seen = new RingMap(maxLogEntries * 2);
  }

  private loadFor(deployment: string): DeploymentLoad {
    let l = this.load.get(deployment);
    if (l === undefined) this.load.set(deployment, (l = { inFlight: 0, window: -1, requests: [0, 0], tokens: [0, 0], samples: [], coolingUntilMs: 0, provider: null }));
    return l;
  }

  countInFlight(deployment: string, delta: 1 | -1): number {
    const l = this.loadFor(deployment);
    return (l.inFlight = Math.max(0, l.inFlight + delta));
  }

  /** Moves the two-minute window forward to `index`: [current, previous]. */
  private roll(l: DeploymentLoad, index: number): void {
    if (l.window === index) return;
    const keep = l.window === index - 1;
    l.requests = [0, keep ? l.requests[0] : 0];
    l.tokens = [0, keep ? l.tokens[0] : 0];
    l.window = index;
  }

  // Answered at once; typed as the interface's, so a test's store can stand in with a promise.
  loadOf(deployments: readonly string[], nowMs: number): LoadView[] | Promise<LoadView[]> {
    const index = windowIndex(nowMs);
    return deployments.map((name) => {
      const l = this.loadFor(name);
      this.roll(l, index);
      return {
        inFlight: l.inFlight,
        requestsInWindow: slidingCount(l.requests[0], l.requests[1], nowMs),
        tokensInWindow: slidingCount(l.tokens[0], l.tokens[1], nowMs),
        ...latencyMeans(l.samples, nowMs, this.loadOptions),
        coolingUntilMs: l.coolingUntilMs,
        provider: currentLimits(l.provider, nowMs),
      };
    });
  }

  async requestStarted(deployment: string, nowMs: number, estimatedTokens: number): Promise<void> {
    const l = this.loadFor(deployment);
    this.roll(l, windowIndex(nowMs));
    this.countInFlight(deployment, 1);
    l.requests[0] += 1;
    l.tokens[0] += estimatedTokens;
  }

  async coolDown(deployment: string, untilMs: number): Promise<void> {
    const l = this.loadFor(deployment);
    l.coolingUntilMs = Math.max(l.coolingUntilMs, untilMs);
  }

  async requestEnded(end: RequestEnd): Promise<void> {
    const l = this.loadFor(end.deployment);
    this.countInFlight(end.deployment, -1);
    this.roll(l, windowIndex(end.endedMs));
    // The correction goes to the minute the estimate went to, if that minute is still counted.
    const slot = windowIndex(end.endedMs) - windowIndex(end.startedMs);
    if (slot === 0 || slot === 1) l.tokens[slot] += end.actualTokens - end.estimatedTokens;
    if (end.sample !== null) {
      l.samples.unshift({ atMs: end.endedMs, ...end.sample });
      if (l.samples.length > this.loadOptions.latencySamples) l.samples.length = this.loadOptions.latencySamples;
    }
  }

  /** Record ids seen, to count a replayed record once; bounded like the log. */
  private readonly seen: RingMap<true>;

  async recordUsage(record: UsageRecord): Promise<void> {
    if (this.seen.has(record.recordId)) return;
    this.seen.set(record.recordId, true);
    const day = usageDay(record.timestampMs);
    for (const dimension of USAGE_DIMENSIONS) {
      for (const id of dimensionIds(record, dimension)) {
        const t = this.totalsOf(dimension, id, day);
        t.requests += 1;
        t.promptTokens += record.promptTokens;
        t.completionTokens += record.completionTokens;
        t.totalTokens += record.totalTokens;
        t.costNanos += record.costNanos;
        if (record.cache?.result === 'hit') t.cacheHits += 1;
        if (record.cache?.result === 'miss') t.cacheMisses += 1;
        t.savedCostNanos += record.savedCostNanos;
      }
    }
    this.log[this.next % this.maxLogEntries] = record;
    this.next += 1;
  }

  private totalsOf(dimension: UsageDimension, id: string, day: string): UsageTotals {
    let byId = this.totals.get(dimension);
    if (byId === undefined) this.totals.set(dimension, (byId = new Map()));
    let byDay = byId.get(id);
    if (byDay === undefined) byId.set(id, (byDay = new Map()));
    let t = byDay.get(day);
    if (t === undefined) byDay.set(day, (t = emptyTotals()));
    return t;
  }

  private readonly keys = new Map<string, VirtualKeyRecord>();
  /** Meter → bucket → amount; and open reservations per meter. */
  private readonly meters = new Map<string, Map<number, number>>();
  private readonly open = new Map<string, number>();
  /** Reservations made and not settled yet. */
  private readonly reservations = new Set<string>();

  /** The meter's buckets inside its window, older ones dropped. */
  private window(c: Charge): Map<number, number> {
    let m = this.meters.get(c.meter);
    if (m === undefined) this.meters.set(c.meter, (m = new Map()));
    const oldest = c.bucket - c.windowBuckets + 1;
    for (const b of m.keys()) if (b < oldest) m.delete(b);
    return m;
  }

  async admit(id: string, charges: readonly Charge[]): Promise<AdmitResult> {
    const used: number[] = [];
    for (const [i, c] of charges.entries()) {
      const m = this.window(c);
      let sum = 0;
      for (const v of m.values()) sum += v;
      if (sum + c.amount > c.limit) return { ok: false, refused: i, used: sum, buckets: [...m.entries()].sort((a, b) => a[0] - b[0]) };
      used.push(sum + c.amount);
    }
    for (const c of charges) {
      const m = this.meters.get(c.meter)!;
      m.set(c.bucket, (m.get(c.bucket) ?? 0) + c.amount);
      this.open.set(c.meter, (this.open.get(c.meter) ?? 0) + 1);
    }
    this.reservations.add(id);
    return { ok: true, used };
  }

  used(charges: readonly Charge[]): number[] | Promise<number[]> {
    return charges.map((c) => {
      let sum = 0;
      for (const v of this.window(c).values()) sum += v;
      return sum;
    });
  }

  async settle(id: string, settlements: readonly Settlement[]): Promise<void> {
    if (!this.reservations.delete(id)) return;
    for (const s of settlements) {
      let m = this.meters.get(s.meter);
      if (s.reserved === false) {
        if (m === undefined) this.meters.set(s.meter, (m = new Map()));
        m.set(s.bucket, (m.get(s.bucket) ?? 0) + s.delta);
        continue;
      }
      if (m !== undefined && s.delta !== 0 && m.has(s.bucket)) m.set(s.bucket, m.get(s.bucket)! + s.delta);
      this.open.set(s.meter, (this.open.get(s.meter) ?? 0) - 1);
    }
  }

  async openReservations(meter: string): Promise<number> {
    return this.open.get(meter) ?? 0;
  }

  async getKey(hash: string): Promise<VirtualKeyRecord | null> {
    return this.keys.get(hash) ?? null;
  }

  async putKey(record: VirtualKeyRecord): Promise<void> {
    this.keys.set(record.hash, record);
  }

  async deleteKey(hash: string): Promise<boolean> {
    return this.keys.delete(hash);
  }

  async recordProviderLimits(deployment: string, limits: ProviderLimits): Promise<void> {
    this.loadFor(deployment).provider = limits;
  }

  async usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals> {
    const t = this.totals.get(dimension)?.get(id)?.get(day);
    return t === undefined ? emptyTotals() : { ...t };
  }

  async usageLog(limit: number): Promise<UsageRecord[]> {
    const count = Math.min(limit, this.log.length);
    const out: UsageRecord[] = [];
    for (let i = this.next - count; i < this.next; i++) out.push(this.log[i % this.maxLogEntries]!);
    return out;
  }

  async cacheGet(key: string, nowMs: number): Promise<Buffer | null> {
    return this.cached.get(key, nowMs);
  }

  async cacheSet(key: string, value: Buffer, ttlMs: number, nowMs: number): Promise<void> {
    this.cached.set(key, value, ttlMs, nowMs);
  }

  async cacheDelete(key: string): Promise<boolean> {
    return this.cached.delete(key);
  }

  async cacheClaim(key: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return this.claims.add(key, true, ttlMs, nowMs);
  }

  async cacheRelease(key: string): Promise<void> {
    this.claims.delete(key);
  }

  async cacheKeys(prefix: string, limit: number, nowMs: number): Promise<string[]> {
    return this.cached.keys(prefix, limit, nowMs);
  }

  async cachePurge(prefix: string): Promise<number> {
    return this.cached.deleteAll(prefix);
  }

  async semanticAppend(record: string, maxLen: number): Promise<void> {
    this.semantic.push({ cursor: String(++this.semanticNext), record });
    if (this.semantic.length > maxLen) this.semantic.splice(0, this.semantic.length - maxLen);
  }

  async semanticRead(cursor: string, limit: number): Promise<Array<{ cursor: string; record: string }>> {
    // Cursors are consecutive: the one after `cursor` is at a known place.
    const first = this.semanticNext - this.semantic.length + 1;
    const from = Math.max(0, Number(cursor) + 1 - first);
    return this.semantic.slice(from, from + limit);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

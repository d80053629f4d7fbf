/**
 * Redis store for many router replicas. Aggregates are hashes per dimension/id/day updated with
 * HINCRBY (integers only, so totals are exact); the record log is a stream trimmed to about
 * `maxLogEntries`. One MULTI per record keeps aggregates and log consistent in one round trip.
 */
import { randomUUID } from 'node:crypto';
import type { VirtualKeyRecord } from '../auth/keys.js';
import { ADMIT_LUA, SETTLE_LUA } from './lua/admit.js';
import { RECORD_USAGE_LUA } from './lua/record-usage.js';
import { Redis } from 'ioredis';
import {
  currentLimits,
  dimensionIds,
  limitsExpireAt,
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
  type LoadView,
  type Settlement,
  type ProviderLimits,
  type RequestEnd,
  type InFlightCounter,
  type StateStore,
  type UsageDimension,
  type UsageRecord,
  type UsageTotals,
} from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly maxLogEntries: number;
  readonly load: LoadOptions;
  /** A replica silent this long no longer counts (default 10 s); it says it is alive 5 times as often. */
  readonly replicaTtlMs?: number | undefined;
  /** The time a heartbeat says it was sent (ms since the epoch; default the wall clock). */
  readonly clock?: (() => number) | undefined;
}

/** The admission script, sent once and then called by its SHA (ioredis defineCommand). */
interface AdmitCommand {
  llmrAdmit(...args: Array<string | number>): Promise<unknown>;
}

interface SettleCommand {
  llmrSettle(...args: Array<string | number>): Promise<unknown>;
}

interface RecordCommand {
  llmrRecordUsage(...args: Array<string | number>): Promise<unknown>;
}

/** A record id is remembered this long, so a record replayed within it is not counted twice. */
const SEEN_TTL_S = 7 * 86_400;

type ExecResults = Array<[Error | null, unknown]> | null;

/**
 * ioredis resolves a pipeline whose commands failed (a command timeout included) with the errors
 * inside the results; the callers here need the failure, so the circuit breaker sees it.
 */
function throwOnError(results: ExecResults): void {
  if (results === null) throw new Error('redis transaction aborted');
  const failed = results.find(([err]) => err !== null);
  if (failed !== undefined) throw failed[0]!;
}

async function execOrThrow(p: { exec(): Promise<ExecResults> }): Promise<void> {
  throwOnError(await p.exec());
}

/** A SCAN pattern matching `s` literally. */
const globEscaped = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

/** Commands per deployment in a load read: in flight, two windows, latency samples, provider limits. */
const PER_DEPLOYMENT = 5;
/** Window hashes outlive the two minutes they are read for. */
const WINDOW_TTL_S = 180;

/** How long a reservation with no charges waits for its settlement: longer than any request runs. */
const EMPTY_RESERVATION_TTL_MS = 24 * 3600 * 1000;

export class RedisStore implements StateStore, InFlightCounter {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly logKey: string;
  /**
   * In-flight counts are kept per replica (one hash field each) and summed over the replicas that
   * are alive, so a replica that dies with requests open stops counting once its heartbeat lapses.
   * Each replica writes its own field's value, not increments, and its heartbeat writes them all
   * again: a write lost to a timeout or skipped while Redis was unreachable is corrected by the
   * next, where a lost increment would skew least-busy routing for good.
   */
  private readonly replicaId = randomUUID();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly replicaTtlMs: number;
  /**
   * This replica's own in-flight counts, kept here synchronously. A decision adds them to the other
   * replicas' counts from Redis at the moment it is made, so requests decided in the same instant
   * see each other even before their increments reach Redis (no herding on one deployment).
   */
  private readonly local = new Map<string, number>();

  constructor(private readonly options: RedisStoreOptions) {
    this.redis = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      lazyConnect: false,
    });
    // Connection errors surface on the commands that fail; the event only needs a listener so a
    // refused connection does not crash the process.
    this.redis.on('error', () => {});
    this.redis.defineCommand('llmrAdmit', { lua: ADMIT_LUA });
    this.redis.defineCommand('llmrSettle', { lua: SETTLE_LUA });
    this.redis.defineCommand('llmrRecordUsage', { lua: RECORD_USAGE_LUA });
    this.logKey = `${options.keyPrefix}usage:log`;
    const clock = options.clock ?? Date.now;
    const beat = () => {
      const p = this.redis.pipeline().zadd(this.replicasKey, clock(), this.replicaId);
      for (const [deployment, n] of this.local) p.hset(this.loadKey(deployment, 'inflight'), this.replicaId, n);
      void p.exec().catch(() => {});
    };
    beat();
    this.replicaTtlMs = options.replicaTtlMs ?? 10_000;
    this.heartbeat = setInterval(beat, this.replicaTtlMs / 5).unref();
  }

  private get replicasKey(): string {
    return `${this.options.keyPrefix}replicas`;
  }

  private get cooldownsKey(): string {
    return `${this.options.keyPrefix}cooldowns`;
  }

  private loadKey(deployment: string, what: string): string {
    return `${this.options.keyPrefix}load:${deployment}:${what}`;
  }

  async loadOf(deployments: readonly string[], nowMs: number): Promise<LoadView[]> {
    const index = windowIndex(nowMs);
    const p = this.redis.pipeline();
    p.zrangebyscore(this.replicasKey, nowMs - this.replicaTtlMs, '+inf');
    for (const d of deployments) {
      p.hgetall(this.loadKey(d, 'inflight'));
      p.hmget(this.loadKey(d, `w:${index}`), 'req', 'tok');
      p.hmget(this.loadKey(d, `w:${index - 1}`), 'req', 'tok');
      p.lrange(this.loadKey(d, 'lat'), 0, this.options.load.latencySamples - 1);
      p.get(this.loadKey(d, 'provider'));
    }
    p.zmscore(this.cooldownsKey, ...deployments);
    const results = (await p.exec()) ?? [];
    const value = (i: number): unknown => {
      const [err, v] = results[i] ?? [new Error('redis pipeline aborted'), null];
      if (err !== null) throw err;
      return v;
    };
    const live = new Set(value(0) as string[]);
    const cooling = value(1 + deployments.length * PER_DEPLOYMENT) as Array<string | null>;
    return deployments.map((_, i) => {
      const base = 1 + i * PER_DEPLOYMENT;
      const inflight = value(base) as Record<string, string>;
      let others = 0;
      for (const [replica, n] of Object.entries(inflight)) if (replica !== this.replicaId && live.has(replica)) others += Number(n);
      const local = this.local;
      const deployment = deployments[i]!;
      const [req, tok] = value(base + 1) as Array<string | null>;
      const [prevReq, prevTok] = value(base + 2) as Array<string | null>;
      const samples: LatencySample[] = (value(base + 3) as string[]).map((s) => {
        const [at, latency, ttft] = s.split(',');
        return { atMs: Number(at), latencyMs: Number(latency), ttftMs: ttft === '' ? null : Number(ttft) };
      });
      return {
        get inFlight() {
          return Math.max(0, others + (local.get(deployment) ?? 0));
        },
        requestsInWindow: slidingCount(Number(req ?? 0), Number(prevReq ?? 0), nowMs),
        tokensInWindow: slidingCount(Number(tok ?? 0), Number(prevTok ?? 0), nowMs),
        ...latencyMeans(samples, nowMs, this.options.load),
        coolingUntilMs: Number(cooling[i] ?? 0),
        provider: currentLimits(JSON.parse((value(base + 4) as string | null) ?? 'null') as ProviderLimits | null, nowMs),
      };
    });
  }

  private get keysKey(): string {
    return `${this.options.keyPrefix}keys`;
  }

  private meterKey(meter: string): string {
    return `${this.options.keyPrefix}meter:${meter}`;
  }

  private reservationKey(id: string): string {
    return `${this.options.keyPrefix}reservation:${id}`;
  }

  async admit(id: string, charges: readonly Charge[]): Promise<AdmitResult> {
    const keys = [this.reservationKey(id), ...charges.map((c) => this.meterKey(c.meter))];
    // With no charges it still makes the reservation: a fallback hop's budgets settle against it.
    const reservationTtlMs = charges.length === 0 ? EMPTY_RESERVATION_TTL_MS : Math.ceil(Math.max(...charges.map((c) => c.ttlMs)));
    const args: Array<string | number> = [keys.length, ...keys, reservationTtlMs];
    for (const c of charges) args.push(c.limit, c.amount, c.bucket, c.windowBuckets, Math.ceil(c.ttlMs));
    const [refused, used, kept] = (await (this.redis as unknown as AdmitCommand).llmrAdmit(...args)) as [number, string | string[], string[] | undefined];
    if (refused === 0) return { ok: true, used: (used as string[]).map(Number) };
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < (kept ?? []).length; i += 2) buckets.push([Number(kept![i]), Number(kept![i + 1])]);
    return { ok: false, refused: refused - 1, used: Number(used), buckets: buckets.sort((a, b) => a[0] - b[0]) };
  }

  async used(charges: readonly Charge[]): Promise<number[]> {
    if (charges.length === 0) return [];
    const p = this.redis.pipeline();
    for (const c of charges) p.hgetall(this.meterKey(c.meter));
    const results = (await p.exec()) ?? [];
    return charges.map((c, i) => {
      const [err, fields] = results[i] ?? [new Error('redis pipeline aborted'), null];
      if (err !== null) throw err;
      const oldest = c.bucket - c.windowBuckets + 1;
      let sum = 0;
      for (const [f, v] of Object.entries(fields as Record<string, string>)) if (f !== 'open' && Number(f) >= oldest) sum += Number(v);
      return sum;
    });
  }

  async settle(id: string, settlements: readonly Settlement[]): Promise<void> {
    if (settlements.length === 0) return;
    const keys = [this.reservationKey(id), ...settlements.map((s) => this.meterKey(s.meter))];
    const args: Array<string | number> = [keys.length, ...keys];
    for (const s of settlements) args.push(s.bucket, s.delta, Math.ceil(s.ttlMs), s.reserved === false ? 0 : -1);
    await (this.redis as unknown as SettleCommand).llmrSettle(...args);
  }

  async openReservations(meter: string): Promise<number> {
    return Number((await this.redis.hget(this.meterKey(meter), 'open')) ?? 0);
  }

  async getKey(hash: string): Promise<VirtualKeyRecord | null> {
    const json = await this.redis.hget(this.keysKey, hash);
    return json === null ? null : (JSON.parse(json) as VirtualKeyRecord);
  }

  async putKey(record: VirtualKeyRecord): Promise<void> {
    await this.redis.hset(this.keysKey, record.hash, JSON.stringify(record));
  }

  async deleteKey(hash: string): Promise<boolean> {
    return (await this.redis.hdel(this.keysKey, hash)) > 0;
  }

  async recordProviderLimits(deployment: string, limits: ProviderLimits): Promise<void> {
    await this.redis.set(this.loadKey(deployment, 'provider'), JSON.stringify(limits), 'PXAT', limitsExpireAt(limits));
  }

  countInFlight(deployment: string, delta: 1 | -1): number {
    const n = Math.max(0, (this.local.get(deployment) ?? 0) + delta);
    this.local.set(deployment, n);
    return n;
  }

  async requestStarted(deployment: string, nowMs: number, estimatedTokens: number): Promise<void> {
    const inFlight = this.countInFlight(deployment, 1);
    const window = this.loadKey(deployment, `w:${windowIndex(nowMs)}`);
    await this.redis
      .pipeline()
      .hset(this.loadKey(deployment, 'inflight'), this.replicaId, inFlight)
      .hincrby(window, 'req', 1)
      .hincrby(window, 'tok', Math.ceil(estimatedTokens))
      .expire(window, WINDOW_TTL_S)
      .exec()
      .then(throwOnError);
  }

  async coolDown(deployment: string, untilMs: number): Promise<void> {
    await this.redis.zadd(this.cooldownsKey, 'GT', untilMs, deployment);
  }

  async requestEnded(end: RequestEnd): Promise<void> {
    const inFlight = this.countInFlight(end.deployment, -1);
    const p = this.redis.pipeline().hset(this.loadKey(end.deployment, 'inflight'), this.replicaId, inFlight);
    const delta = Math.round(end.actualTokens - Math.ceil(end.estimatedTokens));
    if (delta !== 0) p.hincrby(this.loadKey(end.deployment, `w:${windowIndex(end.startedMs)}`), 'tok', delta);
    if (end.sample !== null) {
      const lat = this.loadKey(end.deployment, 'lat');
      p.lpush(lat, `${end.endedMs},${end.sample.latencyMs},${end.sample.ttftMs ?? ''}`).ltrim(lat, 0, this.options.load.latencySamples - 1);
    }
    await execOrThrow(p);
  }

  private totalsKey(dimension: UsageDimension, id: string, day: string): string {
    return `${this.options.keyPrefix}usage:${day}:${dimension}:${id}`;
  }

  async recordUsage(record: UsageRecord): Promise<void> {
    const day = usageDay(record.timestampMs);
    const keys = [`${this.options.keyPrefix}usage:seen:${record.recordId}`, ...USAGE_DIMENSIONS.flatMap((d) => dimensionIds(record, d).map((id) => this.totalsKey(d, id, day))), this.logKey];
    await (this.redis as unknown as RecordCommand).llmrRecordUsage(
      keys.length,
      ...keys,
      SEEN_TTL_S,
      record.promptTokens,
      record.completionTokens,
      record.totalTokens,
      record.costNanos,
      this.options.maxLogEntries,
      JSON.stringify(record),
      record.cache?.result === 'hit' ? 1 : 0,
      record.cache?.result === 'miss' ? 1 : 0,
      record.savedCostNanos,
    );
  }

  async usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals> {
    const h = await this.redis.hgetall(this.totalsKey(dimension, id, day));
    const t = emptyTotals();
    t.requests = Number(h.requests ?? 0);
    t.promptTokens = Number(h.prompt_tokens ?? 0);
    t.completionTokens = Number(h.completion_tokens ?? 0);
    t.totalTokens = Number(h.total_tokens ?? 0);
    t.costNanos = Number(h.cost_nanos ?? 0);
    t.cacheHits = Number(h.cache_hits ?? 0);
    t.cacheMisses = Number(h.cache_misses ?? 0);
    t.savedCostNanos = Number(h.saved_cost_nanos ?? 0);
    return t;
  }

  async usageLog(limit: number): Promise<UsageRecord[]> {
    const entries = await this.redis.xrevrange(this.logKey, '+', '-', 'COUNT', limit);
    const out: UsageRecord[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const fields = entries[i]![1];
      out.push(JSON.parse(fields[1]!) as UsageRecord);
    }
    return out;
  }

  private cacheKey(key: string): string {
    return `${this.options.keyPrefix}cache:${key}`;
  }

  private claimKey(key: string): string {
    return `${this.options.keyPrefix}cache-claim:${key}`;
  }

  async cacheGet(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.cacheKey(key));
  }

  async cacheSet(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.redis.set(this.cacheKey(key), value, 'PX', Math.max(1, ttlMs));
  }

  async cacheDelete(key: string): Promise<boolean> {
    return (await this.redis.del(this.cacheKey(key))) > 0;
  }

  async cacheClaim(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.claimKey(key), '1', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
  }

  async cacheRelease(key: string): Promise<void> {
    await this.redis.del(this.claimKey(key));
  }

  /** SCAN over the prefix (an admin call: it walks the keyspace in steps, never blocking Redis). */
  async cacheKeys(prefix: string, limit: number): Promise<string[]> {
    const strip = this.cacheKey('').length;
    const out: string[] = [];
    await this.scanCache(prefix, (keys) => {
      for (const k of keys) if (out.length < limit) out.push(k.slice(strip));
      return out.length < limit;
    });
    return out;
  }

  async cachePurge(prefix: string): Promise<number> {
    let n = 0;
    await this.scanCache(prefix, async (keys) => {
      if (keys.length > 0) n += await this.redis.unlink(...keys);
      return true;
    });
    return n;
  }

  private get semanticLog(): string {
    return `${this.options.keyPrefix}cache-semantic`;
  }

  async semanticAppend(record: string, maxLen: number): Promise<void> {
    await this.redis.xadd(this.semanticLog, 'MAXLEN', '~', maxLen, '*', 'r', record);
  }

  async semanticRead(cursor: string, limit: number): Promise<Array<{ cursor: string; record: string }>> {
    const entries = await this.redis.xrange(this.semanticLog, `(${cursor}`, '+', 'COUNT', limit);
    return entries.map(([id, fields]) => ({ cursor: id, record: fields[1]! }));
  }

  /** `visit` gets each batch of full key names; it returns false to stop. */
  private async scanCache(prefix: string, visit: (keys: string[]) => boolean | Promise<boolean>): Promise<void> {
    const match = `${globEscaped(this.cacheKey(prefix))}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      if (!(await visit(keys))) return;
    } while (cursor !== '0');
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

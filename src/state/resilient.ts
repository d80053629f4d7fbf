/**
 * The Redis store as the router uses it: every call bounded in time, a circuit breaker that makes
 * calls fail at once while Redis does not answer, and the writes that must not be lost — usage
 * records and reservation settlements — queued and replayed in order when Redis answers again.
 * The pipeline already copes with failing reads (routing without load, admission failing open), so
 * requests keep flowing; the log and `/metrics` say the gateway is degraded.
 */
import type { Logger } from 'pino';
import { Breaker } from './breaker.js';
import type { AdmitResult, Charge, InFlightCounter, LoadView, ProviderLimits, RequestEnd, Settlement, StateStore, UsageDimension, UsageRecord, UsageTotals } from './store.js';
import type { VirtualKeyRecord } from '../auth/keys.js';

export interface ResilienceOptions {
  /** Reads a request waits on (load, admission, keys): kept short so a stalled Redis costs little. */
  readonly hotPathTimeoutMs: number;
  /** Everything else. */
  readonly timeoutMs: number;
  /** Failures in a row that open the breaker; while open, the store is pinged this often. */
  readonly breakerThreshold: number;
  readonly breakerOpenMs: number;
  /** Writes kept while Redis is away; beyond it the oldest are dropped, each with an error log line. */
  readonly maxQueuedWrites: number;
  readonly log: Logger;
}

export class StoreUnavailableError extends Error {
  constructor() {
    super('state store unavailable (circuit breaker open)');
    this.name = 'StoreUnavailableError';
  }
}

export class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`state store call timed out after ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** `p`, or a rejection after `ms`; `waiting` holds the rejecter meanwhile, so it can be cut short. */
function withTimeout<T>(p: Promise<T>, ms: number, waiting?: Set<(err: Error) => void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      waiting?.delete(fail);
      reject(err);
    };
    // After the router's own event loop was held up (a GC pause, a CPU burst), timers run before the
    // replies already waiting in the socket are read: give I/O that one turn before calling it a timeout.
    const timer = setTimeout(() => setImmediate(() => fail(new StoreTimeoutError(ms))), ms);
    waiting?.add(fail);
    p.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        waiting?.delete(fail);
        resolve(v);
      },
      (err: unknown) => fail(err as Error),
    );
  });
}

const DRAIN_INTERVAL_MS = 250;

export class ResilientStore implements StateStore {
  readonly kind;
  private readonly breaker: Breaker;
  private readonly queue: Array<{ readonly what: string; readonly run: () => Promise<void> }> = [];
  private draining = false;
  private timer: NodeJS.Timeout | null = null;
  private probe: NodeJS.Timeout | null = null;
  /** Calls requests are waiting on: failed at once when the breaker opens, as they would time out. */
  private readonly waiting = new Set<(err: Error) => void>();
  /** When the store last answered a call (performance.now()). */
  private lastAnswerMs = 0;

  constructor(
    private readonly inner: StateStore & InFlightCounter,
    private readonly o: ResilienceOptions,
  ) {
    this.kind = inner.kind;
    this.breaker = new Breaker(o.breakerThreshold, (open) => {
      if (open) {
        for (const fail of [...this.waiting]) fail(new StoreUnavailableError());
        o.log.error({ queued: this.queue.length }, 'state store unreachable: degraded (routing on local state, admission by its failure policy, writes queued)');
        this.probe = setInterval(() => this.ping().catch(() => {}), o.breakerOpenMs).unref();
      } else {
        o.log.info({ queued: this.queue.length }, 'state store reachable again: replaying queued writes');
        if (this.probe !== null) clearInterval(this.probe);
        this.probe = null;
        this.drain();
      }
    });
  }

  /** True while the breaker is open or half-open. */
  get degraded(): boolean {
    return this.breaker.isOpen;
  }

  get queuedWrites(): number {
    return this.queue.length;
  }

  private call<T>(timeoutMs: number, fn: () => Promise<T>, waiting?: Set<(err: Error) => void>): Promise<T> {
    if (this.breaker.isOpen) return Promise.reject(new StoreUnavailableError());
    const startedMs = performance.now();
    return withTimeout(fn(), timeoutMs, waiting).then(
      (v) => {
        this.answered();
        return v;
      },
      (err: unknown) => {
        // A call that timed out while the store answered nothing at all since it was sent is a store
        // that has gone silent (replies come in order on the connection): open now rather than let
        // the next requests each wait out their own timeout. One slow call among answers only counts.
        if (err instanceof StoreTimeoutError && this.lastAnswerMs < startedMs) this.breaker.trip();
        else this.breaker.failure();
        throw err;
      },
    );
  }

  private answered(): void {
    this.lastAnswerMs = performance.now();
    this.breaker.success();
    if (this.queue.length > 0) this.drain();
  }

  private hot<T>(fn: () => Promise<T>): Promise<T> {
    return this.call(this.o.hotPathTimeoutMs, fn, this.waiting);
  }

  private bounded<T>(fn: () => Promise<T>): Promise<T> {
    return this.call(this.o.timeoutMs, fn);
  }

  /** A write that must land: now if Redis answers and nothing is queued before it, else queued. */
  private durable(what: string, run: () => Promise<void>): Promise<void> {
    if (this.queue.length === 0 && !this.breaker.isOpen) return this.bounded(run).catch(() => this.enqueue(what, run));
    this.enqueue(what, run);
    return Promise.resolve();
  }

  private enqueue(what: string, run: () => Promise<void>): void {
    this.queue.push({ what, run });
    if (this.queue.length > this.o.maxQueuedWrites) {
      const dropped = this.queue.shift()!;
      this.o.log.error({ what: dropped.what, maxQueuedWrites: this.o.maxQueuedWrites }, 'queued state-store write dropped: the queue is full');
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.drain();
    }, DRAIN_INTERVAL_MS).unref();
  }

  /** Replays queued writes in order, one at a time, until one fails or the queue is empty. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    const next = (): void => {
      const head = this.queue[0];
      if (head === undefined || this.breaker.isOpen) {
        this.draining = false;
        if (this.queue.length > 0) this.enqueueRetry();
        return;
      }
      withTimeout(head.run(), this.o.timeoutMs).then(
        () => {
          this.lastAnswerMs = performance.now();
          this.breaker.success();
          this.queue.shift();
          next();
        },
        () => {
          this.breaker.failure();
          this.draining = false;
          this.enqueueRetry();
        },
      );
    };
    next();
  }

  private enqueueRetry(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.drain();
    }, DRAIN_INTERVAL_MS).unref();
  }

  loadOf(deployments: readonly string[], nowMs: number): Promise<LoadView[]> {
    return this.hot(() => Promise.resolve(this.inner.loadOf(deployments, nowMs)));
  }
  admit(id: string, charges: readonly Charge[]): Promise<AdmitResult> {
    return this.hot(() => this.inner.admit(id, charges));
  }
  used(charges: readonly Charge[]): Promise<number[]> {
    return this.hot(() => Promise.resolve(this.inner.used(charges)));
  }
  getKey(hash: string): Promise<VirtualKeyRecord | null> {
    return this.hot(() => this.inner.getKey(hash));
  }
  // While open, only the replica's own count moves (the store's heartbeat publishes it once Redis
  // answers again); the window's request and token counts of those requests are not kept.
  requestStarted(deployment: string, nowMs: number, estimatedTokens: number): Promise<void> {
    if (this.breaker.isOpen) return this.countedOnly(deployment, 1);
    return this.bounded(() => this.inner.requestStarted(deployment, nowMs, estimatedTokens));
  }
  requestEnded(end: RequestEnd): Promise<void> {
    if (this.breaker.isOpen) return this.countedOnly(end.deployment, -1);
    return this.bounded(() => this.inner.requestEnded(end));
  }
  private countedOnly(deployment: string, delta: 1 | -1): Promise<void> {
    this.inner.countInFlight(deployment, delta);
    return Promise.resolve();
  }
  recordProviderLimits(deployment: string, limits: ProviderLimits): Promise<void> {
    return this.bounded(() => this.inner.recordProviderLimits(deployment, limits));
  }
  coolDown(deployment: string, untilMs: number): Promise<void> {
    return this.bounded(() => this.inner.coolDown(deployment, untilMs));
  }
  recordUsage(record: UsageRecord): Promise<void> {
    return this.durable('usage record', () => this.inner.recordUsage(record));
  }
  settle(id: string, settlements: readonly Settlement[]): Promise<void> {
    return this.durable('settlement', () => this.inner.settle(id, settlements));
  }
  openReservations(meter: string): Promise<number> {
    return this.bounded(() => this.inner.openReservations(meter));
  }
  usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals> {
    return this.bounded(() => this.inner.usageTotals(dimension, id, day));
  }
  usageLog(limit: number): Promise<UsageRecord[]> {
    return this.bounded(() => this.inner.usageLog(limit));
  }
  putKey(record: VirtualKeyRecord): Promise<void> {
    return this.bounded(() => this.inner.putKey(record));
  }
  deleteKey(hash: string): Promise<boolean> {
    return this.bounded(() => this.inner.deleteKey(hash));
  }
  cacheGet(key: string, nowMs: number): Promise<Buffer | null> {
    return this.hot(() => this.inner.cacheGet(key, nowMs));
  }
  cacheClaim(key: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return this.hot(() => this.inner.cacheClaim(key, ttlMs, nowMs));
  }
  // An entry or a claim that does not land costs a later miss, never an answer: not queued.
  cacheSet(key: string, value: Buffer, ttlMs: number, nowMs: number): Promise<void> {
    return this.bounded(() => this.inner.cacheSet(key, value, ttlMs, nowMs));
  }
  cacheRelease(key: string): Promise<void> {
    return this.bounded(() => this.inner.cacheRelease(key));
  }
  cacheDelete(key: string): Promise<boolean> {
    return this.bounded(() => this.inner.cacheDelete(key));
  }
  cacheKeys(prefix: string, limit: number, nowMs: number): Promise<string[]> {
    return this.bounded(() => this.inner.cacheKeys(prefix, limit, nowMs));
  }
  cachePurge(prefix: string): Promise<number> {
    return this.bounded(() => this.inner.cachePurge(prefix));
  }
  semanticAppend(record: string, maxLen: number): Promise<void> {
    return this.bounded(() => this.inner.semanticAppend(record, maxLen));
  }
  semanticRead(cursor: string, limit: number): Promise<Array<{ cursor: string; record: string }>> {
    return this.bounded(() => this.inner.semanticRead(cursor, limit));
  }
  /** Also the background probe while the breaker is open: the one call that goes through then. */
  ping(): Promise<void> {
    return withTimeout(this.inner.ping(), this.o.timeoutMs).then(
      () => this.answered(),
      (err: unknown) => {
        this.breaker.failure();
        throw err;
      },
    );
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.probe !== null) clearInterval(this.probe);
    // One last attempt to land what is queued, then the connection goes.
    for (const w of this.queue.splice(0)) {
      try {
        await withTimeout(w.run(), this.o.timeoutMs);
      } catch (err) {
        this.o.log.error({ err, what: w.what }, 'queued state-store write lost at shutdown');
      }
    }
    await this.inner.close();
  }
}

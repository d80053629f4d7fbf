/**
 * The exact cache over the state store: a lookup finds a stored answer (a hit), or makes the
 * request the one that goes to the provider for everyone asking the same thing at the same time
 * (identical misses wait for its answer, in this process on a promise and across replicas on the
 * store's claim), or says the cache is out of reach (bypass). Nothing here fails a request: a store
 * that errs or times out (the state store's breaker) is a bypass, a corrupt entry a miss.
 */
import type { StateStore } from '../state/store.js';
import { decodeEntry, encodeEntry, type CacheEntry } from './entry.js';

export type Lookup =
  | { readonly kind: 'hit'; readonly entry: CacheEntry }
  /** Go to the provider; `ticket` stores the answer (and, for the request others wait on, hands it to them). */
  | { readonly kind: 'miss'; readonly ticket: Ticket }
  | { readonly kind: 'bypass' };

export interface CacheClock {
  now(): number;
  /** Resolves after `ms` (a timer; a test passes its own). */
  sleep(ms: number): Promise<void>;
}

/** How often a request waiting on another replica's answer looks for it. */
export const POLL_MS = 20;

/** Within this process: the answer of the request that went to the provider, for those waiting on it. */
class Flight {
  readonly answer: Promise<CacheEntry | null>;
  resolve!: (entry: CacheEntry | null) => void;
  constructor() {
    this.answer = new Promise((resolve) => (this.resolve = resolve));
  }
}

/** What a request sent to the provider does with its answer, once. */
export class Ticket {
  private done = false;

  constructor(
    private readonly cache: ExactCache,
    readonly key: string,
    /** This request holds the claim others wait on. */
    private readonly flight: Flight | null,
  ) {}

  /**
   * The complete, successful answer to store for `ttlMs`, or null (none: those waiting go themselves);
   * `stored` runs once it is in the store (the semantic cache points at it only then).
   */
  finish(entry: CacheEntry | null, ttlMs: number, stored?: () => void): void {
    if (this.done) return;
    this.done = true;
    this.cache.finished(this.key, this.flight, entry, ttlMs, stored);
  }
}

export class ExactCache {
  private readonly flights = new Map<string, Flight>();

  constructor(
    private readonly store: StateStore,
    private readonly clock: CacheClock,
    /** A failure of the store, for the log (the request goes on without the cache). */
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  /** `waitMs`: how long identical requests wait for the one that went to the provider. */
  lookup(key: string, waitMs: number): Promise<Lookup> {
    const flight = this.flights.get(key);
    if (flight !== undefined) return this.follow(key, flight, waitMs);
    // Registered before the first await: identical requests arriving meanwhile wait on this one.
    const own = new Flight();
    this.flights.set(key, own);
    return this.read(key).then(
      (entry) => {
        if (entry !== null) {
          this.land(key, own, entry);
          return { kind: 'hit', entry } as const;
        }
        return this.claim(key, own, waitMs);
      },
      (err: unknown) => {
        this.onError(err, 'cache lookup failed: bypassing the cache');
        this.land(key, own, null);
        return { kind: 'bypass' } as const;
      },
    );
  }

  /** A request that may store but waits on nobody (it asked for a fresh answer). */
  ticket(key: string): Ticket {
    return new Ticket(this, key, null);
  }

  /** The stored entry; a corrupt one is deleted and read as none. */
  private async read(key: string): Promise<CacheEntry | null> {
    const bytes = await this.store.cacheGet(key, this.clock.now());
    if (bytes === null) return null;
    const entry = decodeEntry(bytes);
    if (entry === null) this.store.cacheDelete(key).catch((err: unknown) => this.onError(err, 'corrupt cache entry not deleted'));
    return entry;
  }

  /** Another request of this process went first: its answer, or after `waitMs` (or its failure) a miss. */
  private async follow(key: string, flight: Flight, waitMs: number): Promise<Lookup> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
    const entry = await Promise.race([flight.answer, late]);
    clearTimeout(timer);
    // A flight that outlived the wait (its request never finished) is nobody's to wait on any more.
    if (entry === null && this.flights.get(key) === flight) this.flights.delete(key);
    return entry === null ? { kind: 'miss', ticket: this.ticket(key) } : { kind: 'hit', entry };
  }

  /**
   * A miss: the request that gets the claim goes to the provider. Without it another replica's
   * request is on its way: its entry is looked for until `waitMs` has passed, and the claim taken
   * over if it lets go without one.
   */
  private async claim(key: string, own: Flight, waitMs: number): Promise<Lookup> {
    const deadline = this.clock.now() + waitMs;
    try {
      for (;;) {
        // The claim outlives the wait, so a request that dies holding it blocks others no longer than that.
        if (await this.store.cacheClaim(key, Math.max(waitMs, POLL_MS), this.clock.now())) return { kind: 'miss', ticket: new Ticket(this, key, own) };
        if (this.clock.now() >= deadline) break;
        await this.clock.sleep(POLL_MS);
        const entry = await this.read(key);
        if (entry !== null) {
          this.land(key, own, entry);
          return { kind: 'hit', entry };
        }
      }
    } catch (err) {
      this.onError(err, 'cache claim failed: going to the provider');
    }
    // Waited long enough (or the store failed): this request goes itself, and those behind it wait on it.
    return { kind: 'miss', ticket: new Ticket(this, key, own) };
  }

  /** The flight is over: those waiting in this process get `entry` (null: they go themselves). */
  private land(key: string, flight: Flight, entry: CacheEntry | null): void {
    if (this.flights.get(key) === flight) this.flights.delete(key);
    flight.resolve(entry);
  }

  finished(key: string, flight: Flight | null, entry: CacheEntry | null, ttlMs: number, then?: () => void): void {
    if (flight !== null) this.land(key, flight, entry);
    const stored = entry === null || ttlMs <= 0 ? Promise.resolve() : this.store.cacheSet(key, encodeEntry(entry), ttlMs, this.clock.now()).then(then);
    stored
      .catch((err: unknown) => this.onError(err, 'answer not stored in the cache'))
      // Released once the entry is in: a replica waiting on the claim then finds it.
      .then(() => (flight === null ? undefined : this.store.cacheRelease(key)))
      .catch((err: unknown) => this.onError(err, 'cache claim not released'));
  }
}

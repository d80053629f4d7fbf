/**
 * Finds the virtual key behind a presented key: router.yaml's keys first (no I/O), then the keys
 * added at runtime in the state store, remembered for `auth.cache_ms` — found or not, so a flood of
 * one unknown key costs one store lookup per interval, not one per request.
 *
 * Every presented key is the client's choice, so nothing here grows with them: keys found and keys
 * not found are remembered in two bounded maps, each dropping its oldest entry when full, so a flood
 * of random keys evicts only other unknown keys, never the runtime keys in use; and concurrent
 * requests presenting the same key wait for one lookup. Each new random key still costs one lookup,
 * as a request without any key costs a 401: no more store work than requests.
 */
import type { StateStore } from '../state/store.js';
import { keyFromRecord, type VirtualKey } from './keys.js';
import { RingMap } from '../state/ring-map.js';

/** Entries each map keeps at most; the oldest goes first. */
const MAX_REMEMBERED = 10_000;

interface Remembered<T> {
  readonly value: T;
  readonly untilMs: number;
}

/** The newest `max` entries set (a ring: the oldest goes first). */
class Bounded<T> {
  private readonly entries: RingMap<Remembered<T>>;

  constructor(max: number) {
    this.entries = new RingMap(max);
  }

  get(hash: string, nowMs: number): T | undefined {
    const e = this.entries.get(hash);
    return e !== undefined && e.untilMs > nowMs ? e.value : undefined;
  }

  set(hash: string, value: T, untilMs: number): void {
    this.entries.set(hash, { value, untilMs });
  }

  delete(hash: string): void {
    this.entries.delete(hash);
  }
}

export class KeyResolver {
  private readonly found: Bounded<VirtualKey>;
  private readonly missing: Bounded<true>;
  /** Lookups under way, one per hash; each entry lives only until its lookup settles. */
  private readonly pending = new Map<string, Promise<VirtualKey | null>>();

  constructor(
    private readonly configured: ReadonlyMap<string, VirtualKey>,
    private readonly store: StateStore,
    private readonly cacheMs: number,
    private readonly now: () => number,
    maxRemembered = MAX_REMEMBERED,
  ) {
    this.found = new Bounded(maxRemembered);
    this.missing = new Bounded(maxRemembered);
  }

  resolve(hash: string): VirtualKey | null | Promise<VirtualKey | null> {
    const configured = this.configured.get(hash);
    if (configured !== undefined) return configured;
    const nowMs = this.now();
    const found = this.found.get(hash, nowMs);
    if (found !== undefined) return found;
    if (this.missing.get(hash, nowMs) !== undefined) return null;
    const pending = this.pending.get(hash);
    if (pending !== undefined) return pending;
    const lookup: Promise<VirtualKey | null> = this.store.getKey(hash).then(
      (record) => {
        const key = record === null ? null : keyFromRecord(record);
        if (this.settled(hash, lookup)) {
          const untilMs = this.now() + this.cacheMs;
          if (key === null) this.missing.set(hash, true, untilMs);
          else this.found.set(hash, key, untilMs);
        }
        return key;
      },
      (err: unknown) => {
        this.settled(hash, lookup);
        throw err;
      },
    );
    this.pending.set(hash, lookup);
    return lookup;
  }

  /** Ends `lookup`'s turn; false when the key was forgotten meanwhile, so its answer is not remembered. */
  private settled(hash: string, lookup: Promise<VirtualKey | null>): boolean {
    if (this.pending.get(hash) !== lookup) return false;
    this.pending.delete(hash);
    return true;
  }

  /** Forget what is remembered of a key, and any lookup under way (it was changed through this router's admin API). */
  forget(hash: string): void {
    this.found.delete(hash);
    this.missing.delete(hash);
    this.pending.delete(hash);
  }
}

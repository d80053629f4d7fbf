/**
 * Finds the virtual key behind a presented key: router.yaml's keys first (no I/O), then the keys
 * added at runtime in the state store, remembered for `auth.cache_ms` — found or not, so a flood of
 * unknown keys costs one store lookup per key and interval, not one per request.
 */
import type { StateStore } from '../state/store.js';
import { keyFromRecord, type VirtualKey } from './keys.js';

/** Entries beyond this make the cache start over: it only bounds memory, it is not an LRU. */
const MAX_CACHED = 10_000;

export class KeyResolver {
  private readonly cache = new Map<string, { key: VirtualKey | null; untilMs: number }>();

  constructor(
    private readonly configured: ReadonlyMap<string, VirtualKey>,
    private readonly store: StateStore,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {}

  resolve(hash: string): VirtualKey | null | Promise<VirtualKey | null> {
    const configured = this.configured.get(hash);
    if (configured !== undefined) return configured;
    const cached = this.cache.get(hash);
    if (cached !== undefined && cached.untilMs > this.now()) return cached.key;
    return this.store.getKey(hash).then((record) => {
      const key = record === null ? null : keyFromRecord(record);
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { key, untilMs: this.now() + this.cacheMs });
      return key;
    });
  }

  /** Forget what is remembered of a key (it was changed through this router's admin API). */
  forget(hash: string): void {
    this.cache.delete(hash);
  }
}

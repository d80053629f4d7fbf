/**
 * Values that expire, kept in memory: the cache entries and claims of the in-memory store. An
 * expired value is dropped when it is read, and all of them once in a while when one is written.
 */
const SWEEP_EVERY = 1024;

export class Expiring<V> {
  private readonly values = new Map<string, { readonly value: V; readonly expiresAtMs: number }>();
  private writes = 0;

  get(key: string, nowMs: number): V | null {
    const v = this.values.get(key);
    if (v === undefined) return null;
    if (v.expiresAtMs > nowMs) return v.value;
    this.values.delete(key);
    return null;
  }

  set(key: string, value: V, ttlMs: number, nowMs: number): void {
    if (++this.writes % SWEEP_EVERY === 0) this.sweep(nowMs);
    this.values.set(key, { value, expiresAtMs: nowMs + ttlMs });
  }

  /** Sets unless a live value is there: true when set. */
  add(key: string, value: V, ttlMs: number, nowMs: number): boolean {
    if (this.get(key, nowMs) !== null) return false;
    this.set(key, value, ttlMs, nowMs);
    return true;
  }

  delete(key: string): boolean {
    return this.values.delete(key);
  }

  keys(prefix: string, limit: number, nowMs: number): string[] {
    const out: string[] = [];
    for (const [key, v] of this.values) {
      if (out.length >= limit) break;
      if (key.startsWith(prefix) && v.expiresAtMs > nowMs) out.push(key);
    }
    return out;
  }

  deleteAll(prefix: string): number {
    let n = 0;
    for (const key of this.values.keys()) if (key.startsWith(prefix) && this.values.delete(key)) n++;
    return n;
  }

  private sweep(nowMs: number): void {
    for (const [key, v] of this.values) if (v.expiresAtMs <= nowMs) this.values.delete(key);
  }
}

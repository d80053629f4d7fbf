/**
 * A map that remembers the values of its last `max` sets and forgets older ones: each set takes the
 * next slot of a ring, and the key set `max` sets ago leaves with its slot unless it was set again
 * since. So it holds at most `max` keys (fewer when keys are set again), and every operation costs
 * the same however long the router has run.
 *
 * Not a Map trimmed by `map.delete(map.keys().next().value)`: V8 leaves a deleted entry as a hole
 * that every later iteration from the front walks over until the table is rebuilt, so trimming the
 * oldest of a full Map of 20,000 keys cost about 25 µs each time (docs/decisions.md, "Bounded maps
 * on a ring").
 */
export class RingMap<V> {
  /** Key → the slot of its newest set. */
  private readonly slotOf = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly values: Array<V | undefined> = [];
  private next = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.slotOf.size;
  }

  get(key: string): V | undefined {
    const slot = this.slotOf.get(key);
    return slot === undefined ? undefined : this.values[slot];
  }

  has(key: string): boolean {
    return this.slotOf.has(key);
  }

  set(key: string, value: V): void {
    const slot = this.next;
    this.next = slot + 1 === this.max ? 0 : slot + 1;
    const evicted = this.keys[slot];
    // A key set again since holds a newer slot: its old one leaves without it.
    if (evicted !== undefined && this.slotOf.get(evicted) === slot) this.slotOf.delete(evicted);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.slotOf.set(key, slot);
  }

  delete(key: string): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    this.slotOf.delete(key);
    // The value goes now; the key stays in its slot, which no longer names it.
    this.values[slot] = undefined;
    return true;
  }
}

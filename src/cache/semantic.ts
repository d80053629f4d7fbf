/**
 * The semantic cache's index: per partition (the group, the namespace and everything of the request
 * but its last user message's text), the vectors of the prompts whose answers are stored, each
 * pointing at the stored answer's key — the exact cache's entry, so expiry and purges in the store
 * are the index's too (a pointer whose entry is gone is dropped when a lookup finds it).
 *
 * Every router holds the whole index in memory and fills it from one log in the state store (a
 * Redis stream for replicas) that every router appends to and tails, so a prompt stored through one
 * replica is found through all. Each group keeps at most `maxEntries` vectors per router, dropping
 * the oldest; expired ones leave when found or when they reach the front of that order.
 */
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { StateStore } from '../state/store.js';
import { decodeEntry, type CacheEntry } from './entry.js';

/** How often a router reads what others added. */
export const SYNC_MS = 100;
/** Records read per store call while catching up: one batch's insertion holds the event loop (~10–20 ms per 200 on a quiet core). */
const READ_BATCH = 200;
/** Nearest vectors looked at per lookup: the closest may point at an answer that is gone. */
const CANDIDATES = 4;
/** What the log keeps, at least: more than any group's vectors so a new router finds them all. */
const MIN_LOG = 10_000;

interface Slot {
  readonly partition: Partition;
  readonly label: bigint;
  readonly expiresAtMs: number;
}

class Partition {
  readonly index: Index;
  readonly keys = new Map<bigint, string>();
  constructor(
    readonly id: string,
    dimensions: number,
  ) {
    // Half-precision vectors: half the memory bandwidth of a search for a similarity within 1e-4 of
    // float32's (so a threshold means what it says); i8 was faster still but off by up to 0.007.
    this.index = new Index({ dimensions, metric: MetricKind.Cos, connectivity: 16, expansion_add: 64, expansion_search: 64, multi: false, quantization: ScalarKind.F16 });
  }
}

/** One vector record of the log. */
interface VectorRecord {
  /** The group, its partition, the stored answer's key and when it expires. */
  readonly g: string;
  readonly p: string;
  readonly k: string;
  readonly x: number;
  readonly m: number;
  /** The vector, little-endian float32, base64. */
  readonly v: string;
}

function parsed(raw: string): VectorRecord | null {
  try {
    const r = JSON.parse(raw) as VectorRecord;
    return typeof r.g === 'string' && typeof r.p === 'string' && typeof r.k === 'string' && typeof r.v === 'string' && typeof r.x === 'number' && typeof r.m === 'number' ? r : null;
  } catch {
    return null;
  }
}

export interface SemanticHit {
  readonly entry: CacheEntry;
  readonly similarity: number;
}

export class SemanticCache {
  private readonly partitions = new Map<string, Partition>();
  /** Per group, its slots by the stored answer's key, oldest first. */
  private readonly groups = new Map<string, Map<string, Slot>>();
  private nextLabel = 0n;
  private cursor = '0';
  private syncing: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private logLength = MIN_LOG;

  constructor(
    private readonly store: StateStore,
    private readonly now: () => number,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  /** Tails the log from now on (the first read catches up with everything in it). */
  start(logLength: number): void {
    this.logLength = Math.max(MIN_LOG, logLength);
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
    void this.sync();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Reads the log's new records into the index, one read at a time: a call during a read gets the
   * next one (which sees what was appended meanwhile), shared by every call made during that read.
   */
  sync(): Promise<void> {
    if (this.syncing === null) {
      this.syncing = this.readLog().finally(() => (this.syncing = null));
      return this.syncing;
    }
    this.next ??= this.syncing.then(() => {
      this.next = null;
      return this.sync();
    });
    return this.next;
  }

  private async readLog(): Promise<void> {
    try {
      for (;;) {
        const batch = await this.store.semanticRead(this.cursor, READ_BATCH);
        if (batch.length > 0) this.cursor = batch.at(-1)!.cursor;
        this.index(batch.map((b) => b.record));
        if (batch.length < READ_BATCH) break;
      }
      this.expire();
    } catch (err) {
      this.onError(err, 'semantic cache index not updated from the store');
    }
  }

  /** Adds the records' vectors, one insertion per partition (the index builds a batch far faster than one vector at a time). */
  private index(records: readonly string[]): void {
    const now = this.now();
    const pending = new Map<Partition, { labels: bigint[]; vectors: Float32Array[] }>();
    const limits = new Map<string, number>();
    for (const raw of records) {
      const r = parsed(raw);
      if (r === null || r.x <= now) continue;
      const bytes = Buffer.from(r.v, 'base64');
      if (bytes.length === 0 || bytes.length % 4 !== 0) continue;
      const vector = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      const id = `${r.g}\u0000${r.p}\u0000${vector.length}`;
      let partition = this.partitions.get(id);
      if (partition === undefined) {
        partition = new Partition(id, vector.length);
        this.partitions.set(id, partition);
      }
      let slots = this.groups.get(r.g);
      if (slots === undefined) {
        slots = new Map();
        this.groups.set(r.g, slots);
      }
      const old = slots.get(r.k);
      if (old !== undefined) this.drop(slots, r.k, old);
      const label = this.nextLabel++;
      let adding = pending.get(partition);
      if (adding === undefined) {
        adding = { labels: [], vectors: [] };
        pending.set(partition, adding);
      }
      adding.labels.push(label);
      adding.vectors.push(vector);
      partition.keys.set(label, r.k);
      slots.set(r.k, { partition, label, expiresAtMs: r.x });
      limits.set(r.g, r.m);
    }
    for (const [partition, { labels, vectors }] of pending) {
      const matrix = new Float32Array(vectors.length * vectors[0]!.length);
      vectors.forEach((v, i) => matrix.set(v, i * v.length));
      partition.index.add(BigUint64Array.from(labels), matrix, 1);
    }
    for (const [group, max] of limits) {
      const slots = this.groups.get(group)!;
      for (const [key, slot] of slots) {
        if (slots.size <= max) break;
        this.drop(slots, key, slot);
      }
    }
  }

  /** Drops the expired vectors at the front of each group's order. */
  private expire(): void {
    const now = this.now();
    for (const slots of this.groups.values()) {
      for (const [key, slot] of slots) {
        if (slot.expiresAtMs > now) break;
        this.drop(slots, key, slot);
      }
    }
  }

  private drop(slots: Map<string, Slot>, key: string, slot: Slot): void {
    slots.delete(key);
    const p = slot.partition;
    p.index.remove(slot.label);
    p.keys.delete(slot.label);
    if (p.keys.size === 0 && this.partitions.get(p.id) === p) this.partitions.delete(p.id);
  }

  /** The stored answers nearest `vector` in the partition at `threshold` or above: their keys, closest first. */
  search(group: string, partition: string, vector: Float32Array, threshold: number): Array<{ readonly key: string; readonly similarity: number }> {
    const p = this.partitions.get(`${group}\u0000${partition}\u0000${vector.length}`);
    if (p === undefined) return [];
    const found = p.index.search(vector, Math.min(CANDIDATES, p.keys.size), 1);
    const out: Array<{ key: string; similarity: number }> = [];
    for (let i = 0; i < found.keys.length; i++) {
      const similarity = 1 - found.distances[i]!;
      const key = p.keys.get(found.keys[i]!);
      if (key !== undefined && similarity >= threshold) out.push({ key, similarity });
    }
    return out;
  }

  /** The nearest stored answer still in the store; pointers whose answer expired or was purged are dropped. */
  async find(group: string, partition: string, vector: Float32Array, threshold: number): Promise<SemanticHit | null> {
    for (const { key, similarity } of this.search(group, partition, vector, threshold)) {
      const bytes = await this.store.cacheGet(key, this.now());
      const entry = bytes === null ? null : decodeEntry(bytes);
      if (entry !== null) return { entry, similarity };
      const slots = this.groups.get(group);
      const slot = slots?.get(key);
      if (slot !== undefined) this.drop(slots!, key, slot);
    }
    return null;
  }

  /** A stored answer's prompt vector, for every router (this one reads the log at once); resolves once read. */
  add(group: string, partition: string, key: string, vector: Float32Array, expiresAtMs: number, maxEntries: number): Promise<void> {
    const v = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
    const record: VectorRecord = { g: group, p: partition, k: key, x: expiresAtMs, m: maxEntries, v };
    return this.store.semanticAppend(JSON.stringify(record), this.logLength).then(
      () => this.sync(),
      (err: unknown) => this.onError(err, 'semantic cache vector not stored'),
    );
  }

  /** How many vectors this router holds (the bench and /metrics read it). */
  get size(): number {
    let n = 0;
    for (const slots of this.groups.values()) n += slots.size;
    return n;
  }
}

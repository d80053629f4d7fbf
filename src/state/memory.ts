/** The embedded store for a single router: no dependencies, state lost on restart. */
import {
  dimensionId,
  emptyTotals,
  USAGE_DIMENSIONS,
  usageDay,
  type StateStore,
  type UsageDimension,
  type UsageRecord,
  type UsageTotals,
} from './store.js';

export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly totals = new Map<string, UsageTotals>();
  /** A ring buffer: `log[next % max]` is overwritten once full, so memory stays bounded. */
  private readonly log: UsageRecord[] = [];
  private next = 0;

  constructor(private readonly maxLogEntries: number) {}

  async recordUsage(record: UsageRecord): Promise<void> {
    const day = usageDay(record.timestampMs);
    for (const dimension of USAGE_DIMENSIONS) {
      const key = `${dimension}\u0000${dimensionId(record, dimension)}\u0000${day}`;
      let t = this.totals.get(key);
      if (t === undefined) this.totals.set(key, (t = emptyTotals()));
      t.requests += 1;
      t.promptTokens += record.promptTokens;
      t.completionTokens += record.completionTokens;
      t.totalTokens += record.totalTokens;
      t.costNanos += record.costNanos;
    }
    this.log[this.next % this.maxLogEntries] = record;
    this.next += 1;
  }

  async usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals> {
    const t = this.totals.get(`${dimension}\u0000${id}\u0000${day}`);
    return t === undefined ? emptyTotals() : { ...t };
  }

  async usageLog(limit: number): Promise<UsageRecord[]> {
    const count = Math.min(limit, this.log.length);
    const out: UsageRecord[] = [];
    for (let i = this.next - count; i < this.next; i++) out.push(this.log[i % this.maxLogEntries]!);
    return out;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

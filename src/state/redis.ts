/**
 * Redis store for many router replicas. Aggregates are hashes per dimension/id/day updated with
 * HINCRBY (integers only, so totals are exact); the record log is a stream trimmed to about
 * `maxLogEntries`. One MULTI per record keeps aggregates and log consistent in one round trip.
 */
import { Redis } from 'ioredis';
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

export interface RedisStoreOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly maxLogEntries: number;
}

export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly logKey: string;

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
    this.logKey = `${options.keyPrefix}usage:log`;
  }

  private totalsKey(dimension: UsageDimension, id: string, day: string): string {
    return `${this.options.keyPrefix}usage:${day}:${dimension}:${id}`;
  }

  async recordUsage(record: UsageRecord): Promise<void> {
    const day = usageDay(record.timestampMs);
    const tx = this.redis.multi();
    for (const dimension of USAGE_DIMENSIONS) {
      const key = this.totalsKey(dimension, dimensionId(record, dimension), day);
      tx.hincrby(key, 'requests', 1);
      tx.hincrby(key, 'prompt_tokens', record.promptTokens);
      tx.hincrby(key, 'completion_tokens', record.completionTokens);
      tx.hincrby(key, 'total_tokens', record.totalTokens);
      tx.hincrby(key, 'cost_nanos', record.costNanos);
    }
    tx.xadd(this.logKey, 'MAXLEN', '~', String(this.options.maxLogEntries), '*', 'r', JSON.stringify(record));
    const results = await tx.exec();
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('redis transaction aborted');
  }

  async usageTotals(dimension: UsageDimension, id: string, day: string): Promise<UsageTotals> {
    const h = await this.redis.hgetall(this.totalsKey(dimension, id, day));
    const t = emptyTotals();
    t.requests = Number(h.requests ?? 0);
    t.promptTokens = Number(h.prompt_tokens ?? 0);
    t.completionTokens = Number(h.completion_tokens ?? 0);
    t.totalTokens = Number(h.total_tokens ?? 0);
    t.costNanos = Number(h.cost_nanos ?? 0);
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

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The newest finished requests with their routing decisions and attempts, as this process served
 * them: what the operator console lists. A fixed-size ring, so memory stays bounded however busy the
 * router is; the full history is the usage log and the request log lines.
 */
import type { UsageRecord } from '../state/store.js';

export interface RecentRequest {
  readonly atMs: number;
  readonly requestId: string;
  readonly keyId: string;
  readonly requestedModel: string;
  readonly deployment: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly totalTokens: number;
  readonly costNanos: number;
  readonly cache: string | null;
  /** The decision record of the request log line (routing/decision.ts) with its attempts; null: not routed. */
  readonly routing: Readonly<Record<string, unknown>> | null;
}

export class RecentRequests {
  private readonly ring: RecentRequest[] = [];
  private next = 0;

  constructor(private readonly capacity = 50) {}

  add(record: UsageRecord, routing: Readonly<Record<string, unknown>> | undefined): void {
    const entry: RecentRequest = {
      atMs: record.timestampMs,
      requestId: record.requestId,
      keyId: record.keyId,
      requestedModel: record.requestedModel,
      deployment: record.deployment,
      status: record.status,
      latencyMs: record.latencyMs,
      totalTokens: record.totalTokens,
      costNanos: record.costNanos,
      cache: record.cache?.result ?? null,
      routing: routing ?? null,
    };
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  newest(): RecentRequest[] {
    const oldestFirst = this.ring.length < this.capacity ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return oldestFirst.slice().reverse();
  }
}

/**
 * The attempts of each request, as this router process saw them (its upstream filters and the
 * request's own response), kept until the request's stream ends and puts them in its decision
 * record. Both streams of a request reach the same router process when one router serves the Envoy
 * (the shipped layout); with several replicas an attempt seen by another one is only in that
 * replica's metrics. Bounded: entries nobody takes are dropped oldest first.
 */

export interface AttemptRecord {
  /** Envoy's attempt number, from 1. */
  readonly attempt: number;
  readonly deployment: string;
  /** null: no response (connection refused, reset, timed out), or none yet. */
  readonly status: number | null;
  /** `sent` (no outcome known yet), `ok`, `refused`, `rate_limited`, `failed`, or a fallback reason. */
  readonly result: string;
  /** Where the next attempt would go, as named for this one; null: unknown or this deployment again. */
  readonly next: string | null;
  readonly atMs: number;
}

const MAX_REQUESTS = 10_000;
const NONE: readonly AttemptRecord[] = [];

export class AttemptLog {
  private readonly byRequest = new Map<string, AttemptRecord[]>();

  /** Adds the record, or replaces the one of the same attempt (an outcome for an attempt sent). */
  put(requestId: string, record: AttemptRecord): void {
    let list = this.byRequest.get(requestId);
    if (list === undefined) {
      if (this.byRequest.size >= MAX_REQUESTS) this.byRequest.delete(this.byRequest.keys().next().value!);
      this.byRequest.set(requestId, (list = []));
    }
    const at = list.findIndex((r) => r.attempt === record.attempt);
    if (at === -1) list.push(record);
    else list[at] = record;
  }

  /** The request's attempts so far, left in the log. */
  peek(requestId: string): readonly AttemptRecord[] {
    return this.byRequest.get(requestId) ?? NONE;
  }

  /** The request's attempts in order, removed from the log. */
  take(requestId: string): AttemptRecord[] {
    const list = this.byRequest.get(requestId) ?? [];
    this.byRequest.delete(requestId);
    return list.sort((a, b) => a.attempt - b.attempt);
  }
}

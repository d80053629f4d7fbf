/**
 * The attempts of each request, as the upstream filter saw them, kept until the request's own
 * stream ends and puts them in its decision record. Both streams of a request reach the same
 * router process when one router serves the Envoy (the shipped layout); with several replicas an
 * attempt seen by another one is only in that replica's log line. Bounded: entries nobody takes
 * (a request whose stream went to another replica) are dropped oldest first.
 */

export interface AttemptRecord {
  /** Envoy's attempt number, from 1. */
  readonly attempt: number;
  readonly deployment: string;
  /** null: no response (connection refused, reset, timed out). */
  readonly status: number | null;
  readonly result: string;
  /** Where the next attempt would have gone; null: this deployment again. */
  readonly next: string | null;
  readonly ms: number;
}

const MAX_REQUESTS = 10_000;
const NONE: readonly AttemptRecord[] = [];

export class AttemptLog {
  private readonly byRequest = new Map<string, AttemptRecord[]>();

  add(requestId: string, record: AttemptRecord): void {
    let list = this.byRequest.get(requestId);
    if (list === undefined) {
      if (this.byRequest.size >= MAX_REQUESTS) this.byRequest.delete(this.byRequest.keys().next().value!);
      this.byRequest.set(requestId, (list = []));
    }
    list.push(record);
  }

  /** The request's attempts so far, in the order they ended, left in the log. */
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

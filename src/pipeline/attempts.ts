/**
 * The attempts of each request, as this router process saw them (its upstream filters and the
 * request's own response), kept until the request's stream ends and puts them in its decision
 * record. Both streams of a request reach the same router process when one router serves the Envoy
 * (the shipped layout); with several replicas an attempt seen by another one is only in that
 * replica's metrics.
 *
 * A request is known by the id its plan carries (routing/plan.ts), which this log makes when the
 * request is routed (`open`), not by `x-request-id`: Envoy keeps a client's own x-request-id, so two
 * requests could share one and read each other's attempts. Records are kept only for requests this
 * process opened and has not taken yet, so nothing is left behind by a request another replica
 * planned or one already ended: the log holds at most the requests in flight here, and past
 * `MAX_REQUESTS` (a backstop) drops the oldest.
 */
import { randomBytes } from 'node:crypto';

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
  /** Unique to this process, so an id another replica made never names a request here. */
  private readonly prefix = randomBytes(6).toString('base64url');
  private opened = 0;

  /** A routed request's id: its attempts are kept from now until `take`. No spaces or colons (plan.ts). */
  open(): string {
    if (this.byRequest.size >= MAX_REQUESTS) this.byRequest.delete(this.byRequest.keys().next().value!);
    const id = `${this.prefix}.${(this.opened++).toString(36)}`;
    this.byRequest.set(id, []);
    return id;
  }

  /** Adds the record, or replaces the one of the same attempt (an outcome for an attempt sent); nothing for a request not open here. */
  put(id: string | undefined, record: AttemptRecord): void {
    const list = id === undefined ? undefined : this.byRequest.get(id);
    if (list === undefined) return;
    const at = list.findIndex((r) => r.attempt === record.attempt);
    if (at === -1) list.push(record);
    else list[at] = record;
  }

  /** The request's attempts so far, left in the log. */
  peek(id: string | undefined): readonly AttemptRecord[] {
    return (id === undefined ? undefined : this.byRequest.get(id)) ?? NONE;
  }

  /** The request's attempts in order, removed from the log: the request is closed here. */
  take(id: string | undefined): AttemptRecord[] {
    if (id === undefined) return [];
    const list = this.byRequest.get(id) ?? [];
    this.byRequest.delete(id);
    return list.sort((a, b) => a.attempt - b.attempt);
  }
}

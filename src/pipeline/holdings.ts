/**
 * What one request holds in the shared state until it ends: its place in the load of the
 * deployment serving it (in flight, tokens in the sliding minute) and its admission reservations.
 * The exchange takes each when the request goes upstream and gives each back exactly once, however
 * the request ends; when a fallback hop answers, the load moves to that deployment.
 */
import { servedElsewhere, settlements, type PlannedCharge } from '../admission/charges.js';
import { limitHeaders } from '../admission/refusal.js';
import type { Deployment } from '../config/compile.js';
import type { Pipeline } from './pipeline.js';
import type { HeaderPair } from './types.js';

/** What a request is billed: the provider's usage, or the estimate of a stream cut short. */
export interface Billed {
  readonly tokens: number;
  readonly costNanos: number;
}

export interface LatencySample {
  readonly latencyMs: number;
  readonly ttftMs: number | null;
}

export class Holdings {
  private admission: { readonly id: string; readonly charges: readonly PlannedCharge[]; readonly used: readonly number[] | null } | null = null;
  private loadOf: Deployment | null = null;
  /** Tokens counted against `loadOf`'s window since `loadStartMs`; null: no load held. */
  private reservedTokens: number | null = null;
  private loadStartMs = 0;

  /** `requestId`: for log lines, known once the request headers are read. */
  constructor(
    private readonly p: Pipeline,
    private readonly requestId: () => string,
  ) {}

  /** `used`: the meters' use after the reservation; null when the store did not answer (admitted open). */
  admitted(id: string, charges: readonly PlannedCharge[], used: readonly number[] | null): void {
    this.admission = { id, charges, used };
  }

  /** The caller's remaining limits (`x-ratelimit-*`), when admission measured them. */
  limitHeaders(nowMs: number): readonly HeaderPair[] {
    return this.admission?.used == null ? [] : limitHeaders(this.admission.charges, this.admission.used, nowMs);
  }

  holdLoad(d: Deployment, nowMs: number, tokens: number): void {
    this.loadOf = d;
    this.reservedTokens = tokens;
    this.loadStartMs = nowMs;
    this.p.store.requestStarted(d.name, nowMs, tokens).catch((err: unknown) => {
      this.p.storeError(err, 'load not recorded in the state store', { requestId: this.requestId(), deployment: d.name });
    });
  }

  /** The response came from `d`: the estimate leaves the deployment it was sent to and goes to `d`. */
  moveLoad(d: Deployment, nowMs: number): void {
    if (this.loadOf === null || this.loadOf === d || this.reservedTokens === null) return;
    const tokens = this.reservedTokens;
    this.releaseLoad(nowMs, 0, null);
    this.holdLoad(d, nowMs, tokens);
  }

  /** In flight −1, the window corrected to `tokens` (null: the estimate stands), and a latency sample. */
  releaseLoad(nowMs: number, tokens: number | null, sample: LatencySample | null): void {
    const d = this.loadOf;
    if (d === null || this.reservedTokens === null) return;
    this.p.store
      .requestEnded({ deployment: d.name, startedMs: this.loadStartMs, endedMs: nowMs, estimatedTokens: this.reservedTokens, actualTokens: tokens ?? this.reservedTokens, sample })
      .catch((err: unknown) => this.p.storeError(err, 'load release not recorded in the state store', { requestId: this.requestId(), deployment: d.name }));
    this.reservedTokens = null;
  }

  /**
   * Reservations end with what was billed; without it, a request that failed or never got an answer
   * releases them, and one cut without any estimate keeps what was reserved (the provider may bill it).
   * `servedBy`: a fallback hop that answered, whose provider and model-group budgets pay instead.
   */
  settle(billed: Billed | null, failed: boolean, servedBy: Deployment | null = null): void {
    if (this.admission === null) return;
    const { id, charges } = this.admission;
    const real = billed ?? (failed ? { tokens: 0, costNanos: 0 } : null);
    let done = real === null ? charges.map((c) => ({ meter: c.meter, bucket: c.bucket, ttlMs: c.ttlMs, delta: 0 })) : settlements(charges, real);
    if (servedBy !== null && real !== null && real.costNanos > 0) done = servedElsewhere(charges, done, servedBy, real.costNanos, this.p.env.now(), this.p.config);
    this.admission = null;
    this.p.store.settle(id, done).catch((err: unknown) => this.p.log.error({ err, requestId: this.requestId(), settlements: done }, 'reservations not settled in the state store'));
  }
}

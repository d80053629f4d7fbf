/**
 * The response side of a routed request: which deployment answered (a fallback hop moves the load
 * and the bill to it), its status and timings, the body read through that deployment's adapter for
 * usage, and, at the end, what is billed: the provider's usage, or for a stream cut before it what
 * the client got. The reservations and the load are settled here; exchange.ts writes the record.
 */
import type { Deployment } from '../config/compile.js';
import { clientStatusFor, observerFor } from '../providers/client-apis.js';
import type { ClientApi } from '../routing/types.js';
import type { ResponseObserver } from '../providers/openai/response.js';
import { costNanos, NO_USAGE, type Usage } from '../providers/usage.js';
import { settleAttempt } from './attempt.js';
import type { Holdings } from './holdings.js';
import type { Pipeline } from './pipeline.js';
import type { Attributes, HeaderPair, Headers } from './types.js';

/** What the request phase settled for a request it sent upstream. */
export interface Sent {
  readonly requestId: string;
  readonly startMs: number;
  /** Where attempt 1 went. */
  readonly deployment: Deployment;
  /** Its plan's id in the attempt log. */
  readonly planId: string | undefined;
  /** The router asked for a usage report the client did not: its event is dropped. */
  readonly hideUsageEvent: boolean;
  /** The client's API, which its answer is written in. */
  readonly api: ClientApi;
  readonly stream: boolean;
  /** The prompt's tokens as estimated when routed: what a stream cut before the provider's usage report is billed. */
  readonly promptEstimate: number;
}

/** What the request is billed, once it ended. */
export interface Billed {
  readonly served: Deployment;
  readonly usage: Usage;
  /** No usage report: billed for what the client got. */
  readonly estimated: boolean;
  /** The client got the whole answer (no cut, no error event of ours), with the provider's usage. */
  readonly whole: boolean;
  readonly costNanos: number;
  readonly responseModel: string | null;
}

const NO_REPORT = { usage: null, responseModel: null, contentEvents: 0, complete: false } as const;
const UNCHANGED_HEADERS = { set: [], remove: [] } as const;
const CONTENT_LENGTH = ['content-length'] as const;

export class ResponseSide {
  status = 0;
  started = false;
  ttfbMs: number | null = null;
  ttftMs: number | null = null;
  /** The deployment whose answer the client got: the primary, or a fallback hop. */
  private served: Deployment;
  private observer: ResponseObserver | null = null;

  constructor(
    private readonly p: Pipeline,
    private readonly holdings: Holdings,
    readonly sent: Sent,
  ) {
    this.served = sent.deployment;
  }

  /** The body is read (the adapter has something to learn from it, or to change in it). */
  get reading(): boolean {
    return this.observer !== null;
  }

  /**
   * The response starts. Envoy's attributes say which deployment it came from (`xds.cluster_name`) and
   * after how many attempts: when a fallback hop answered, the load moves to it and its prices bill
   * the request; the final attempt's outcome is settled like any other attempt's.
   */
  start(status: number, contentType: string, attributes: Attributes): void {
    this.started = true;
    this.status = status;
    const now = this.p.env.now();
    this.ttfbMs = now - this.sent.startMs;
    const served = attributes.cluster === null ? undefined : this.p.config.clusters.get(attributes.cluster);
    if (served !== undefined && served !== this.served) {
      this.served = served;
      this.holdings.moveLoad(served, now);
    }
    const { adapter, providerModel } = this.served;
    const { api } = this.sent;
    // For another client API, the OpenAI form keeps its usage chunk: the translation reads it.
    const own = adapter.observeResponse(contentType, api === 'openai' && this.sent.hideUsageEvent, now, providerModel);
    this.observer = observerFor(api, own, adapter.native === api, contentType, adapter.clientStatus(status));
    if (attributes.attempt !== null) this.settleFinalAttempt(attributes.attempt, now);
  }

  /**
   * What the client's response headers need when the answer is translated: the status an OpenAI
   * client expects, and no `content-length` (the body's length changes).
   */
  clientHeaders(): { readonly set: readonly HeaderPair[]; readonly remove: readonly string[] } {
    const adapter = this.served.adapter;
    if (adapter.native === this.sent.api) return UNCHANGED_HEADERS;
    const status = clientStatusFor(this.sent.api, adapter.clientStatus(this.status));
    return { set: status === this.status ? [] : [[':status', String(status)]], remove: CONTENT_LENGTH };
  }

  /** The provider's remaining requests and tokens, from its headers, into the shared load. */
  providerLimits(headers: Headers): void {
    const d = this.served;
    const limits = d.adapter.rateLimitsOf(headers, this.p.env.now());
    if (limits === null) return;
    this.p.store.recordProviderLimits(d.name, limits).catch((err: unknown) => {
      this.p.storeError(err, 'provider limits not recorded in the state store', { requestId: this.sent.requestId, deployment: d.name });
    });
  }

  /** A body chunk: what the client gets instead, or null to pass it unchanged. */
  chunk(chunk: Buffer, endOfStream: boolean): Buffer | null {
    if (this.ttftMs === null && chunk.length > 0) this.ttftMs = this.p.env.now() - this.sent.startMs;
    return this.observer?.push(chunk, endOfStream) ?? null;
  }

  /**
   * The last attempt: a success no upstream filter was asked about, or a failure none answered (Envoy's
   * own 503 after a refused connection). One the failed-attempt filter saw is already settled.
   */
  private settleFinalAttempt(attempt: number, now: number): void {
    const { requestId, planId } = this.sent;
    const d = this.served;
    const hop = attempt === 1 ? 'first' : 'fallback';
    if (this.status >= 200 && this.status < 300) {
      settleAttempt(this.p, requestId, planId, { attempt, deployment: d.name, status: this.status, result: 'ok', next: null, atMs: now }, { kind: 'ok' }, hop);
      return;
    }
    const seen = this.p.attempts.peek(planId).find((r) => r.attempt === attempt);
    if (seen === undefined || seen.result === 'sent') {
      settleAttempt(this.p, requestId, planId, { attempt, deployment: d.name, status: null, result: 'failed', next: null, atMs: now }, { kind: 'failed' }, hop);
    }
  }

  /**
   * The request ended (`complete`: Envoy saw its end, not a reset): what it is billed, with its
   * reservations settled to that and its load released.
   */
  settle(complete: boolean, nowMs: number): Billed {
    const d = this.served;
    const primary = this.sent.deployment;
    const report = this.observer?.report() ?? NO_REPORT;
    const reported = report.usage !== null;
    const { usage, estimated } = this.billedUsage(report.usage, report.contentEvents);
    const whole = complete && reported && report.complete;
    const cost = costNanos(usage, d.price);
    this.holdings.settle(reported || estimated ? { tokens: usage.totalTokens, costNanos: cost } : null, !this.started || this.status >= 400, d === primary ? null : d);
    // Only the deployment the request was sent to, answering in full, gives a latency sample.
    const sample = whole && this.status >= 200 && this.status < 300 && d === primary ? { latencyMs: nowMs - this.sent.startMs, ttftMs: this.ttftMs } : null;
    this.holdings.releaseLoad(nowMs, reported || estimated ? usage.totalTokens : null, sample);
    return { served: d, usage, estimated, whole, costNanos: cost, responseModel: report.responseModel };
  }

  /**
   * A stream that ended without the provider's usage report is billed for what the client got: the
   * prompt as estimated when it was routed and one completion token per content event delivered,
   * which is how providers stream.
   */
  private billedUsage(reported: Usage | null, contentEvents: number): { usage: Usage; estimated: boolean } {
    if (reported !== null) return { usage: reported, estimated: false };
    if (!this.sent.stream || contentEvents === 0) return { usage: NO_USAGE, estimated: false };
    const promptTokens = this.sent.promptEstimate;
    const completionTokens = contentEvents;
    return { usage: { promptTokens, cachedPromptTokens: 0, completionTokens, reasoningTokens: 0, totalTokens: promptTokens + completionTokens }, estimated: true };
  }
}

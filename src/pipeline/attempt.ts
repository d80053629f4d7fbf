/**
 * Envoy's attempts of a request, as the router's upstream filters show them (envoy.yaml: the
 * router filter's `upstream_http_filters`, run after Envoy picked the attempt's cluster). A first
 * attempt that succeeds costs the router nothing: a `header_mutation` names the next hop the
 * request phase planned. The router is asked only about:
 *
 *   `Hop`            every retry, and a first attempt at a deployment whose API does not take
 *                    OpenAI's format, at its request headers: name the cluster of the attempt after
 *                    it (Envoy re-reads it: `refresh_cluster_on_retry`); this deployment's path,
 *                    credential and headers; its body (only when its model id or format differs);
 *                    and the previous attempt, if it got no response at all (refused, reset, timed
 *                    out), counted as a failure
 *   `FailedAttempt`  every attempt answered with a non-2xx status, at its response headers: cooldowns
 *                    from 429/Retry-After and failures; a 400 read whole when a later hop could take
 *                    it over, and marked retriable (`x-llm-retry`) when one serves its reason
 */
import type { Deployment } from '../config/compile.js';
import { retryAtMs } from '../providers/retry-after.js';
import { clipped } from '../telemetry/logger.js';
import { attemptResult, cooldownAfter, type AttemptResult } from '../routing/cooldown.js';
import { FALLBACK_REASONS, nextHop, parsePlan, type FallbackReason, type Plan } from '../routing/plan.js';
import type { Call, ClientApi } from '../routing/types.js';
import type { AttemptRecord } from './attempts.js';
import type { Pipeline } from './pipeline.js';
import { PASS, type Attributes, type HeaderPair, type Headers, type Outcome, type StreamHandler } from './types.js';
import { ATTEMPT_COUNT_HEADER, attemptBody, attemptHeaders, PLAN_HEADER } from './upstream.js';

/** A response header that makes Envoy retry (route `retriable_headers`); removed before the client sees it. */
export const RETRY_HEADER = 'x-llm-retry';
/** Seconds Envoy's rate-limited back-off waits before retrying the same deployment (`rate_limited_retry_back_off`). */
export const BACKOFF_HEADER = 'x-llm-backoff';

/**
 * An attempt's outcome, as every replica learns it: counted in the metrics and the request's attempt
 * log (`planId`: its plan's id there), and the cooldown it earns applied here and in the shared store.
 * `requestId` (x-request-id) only names the request in log lines.
 */
export function settleAttempt(p: Pipeline, requestId: string, planId: string | undefined, record: AttemptRecord, result: AttemptResult, hop: 'first' | 'fallback'): void {
  p.metrics.attempts.inc({ deployment: record.deployment, hop, result: record.result });
  p.attempts.put(planId, record);
  const now = p.env.now();
  const until = cooldownAfter(result, record.deployment, now, p.config.routing, p.availability.failures);
  if (until === null) return;
  const cause = result.kind === 'failed' ? 'failures' : result.kind === 'rate_limited' && result.retryAtMs !== null ? 'retry_after' : 'rate_limited';
  p.metrics.cooldowns.inc({ deployment: record.deployment, cause });
  p.availability.cool(record.deployment, until);
  p.log.info({ requestId, deployment: record.deployment, status: record.status, cause, untilMs: until }, 'deployment cooling down');
  p.store.coolDown(record.deployment, until).catch((err: unknown) => p.storeError(err, 'cooldown not recorded in the state store', { requestId, deployment: record.deployment }));
}

/** The reason of the last attempt this process saw fail with one (a content-filter refusal, a context-length error). */
function lastFallbackReason(records: readonly AttemptRecord[]): FallbackReason | null {
  const last = records[records.length - 1]?.result;
  return FALLBACK_REASONS.find((r) => r === last) ?? null;
}

export class Hop implements StreamHandler {
  private deployment: Deployment | null = null;
  private call: Call = 'chat';
  private api: ClientApi = 'openai';
  private finished = false;

  constructor(private readonly p: Pipeline) {}

  onRequestHeaders(headers: Headers, _endOfStream: boolean, attributes: Attributes): Outcome {
    const plan = parsePlan(headers[PLAN_HEADER], this.p.known);
    const d = attributes.cluster === null ? undefined : this.p.knownClusters.get(attributes.cluster);
    const attempt = attributes.attempt ?? 2;
    if (plan === null || d === undefined) return this.ignore();
    const requestId = clipped(headers['x-request-id'] ?? '');
    const now = this.p.env.now();
    this.noteSilentPrevious(requestId, plan, attempt, now);
    this.deployment = d;
    this.call = plan.call;
    this.api = plan.api;
    const earlier = this.p.attempts.peek(plan.id);
    const next = nextHop(plan, d.name, (name) => this.p.usable(name, now), lastFallbackReason(earlier));
    this.p.attempts.put(plan.id, { attempt, deployment: d.name, status: null, result: 'sent', next: next?.deployment ?? null, atMs: now });
    // Without the attempt count, Envoy's matcher reads x-llm-cluster for the next attempt (envoy.yaml).
    const setHeaders: HeaderPair[] = [[this.p.config.clusterHeader, next === null ? d.cluster : this.p.known.get(next.deployment)!.cluster]];
    // The path, credential and headers of the cluster Envoy chose for this attempt (`xds.cluster_name`),
    // whatever an earlier attempt carried: every attempt shares one request header map.
    const own = attemptHeaders(d, plan.call);
    setHeaders.push(...own.set);
    const removeHeaders = [ATTEMPT_COUNT_HEADER, ...own.remove];
    // Envoy buffered the body in the client's API: OpenAI's with the first deployment's model id, or another's as the client sent it.
    const readRequestBody = plan.api !== 'openai' || d.adapter.translate !== null || d.providerModel !== this.p.known.get(plan.primary)!.providerModel;
    if (!readRequestBody) this.finished = true;
    return { kind: 'continue', setHeaders, removeHeaders, readRequestBody };
  }

  /**
   * An attempt before this one that got no response: nothing else tells the router. Its record is
   * still `sent` (a retry named it), or missing (a first attempt).
   */
  private noteSilentPrevious(requestId: string, plan: Plan, attempt: number, now: number): void {
    const previous = this.p.attempts.peek(plan.id).find((r) => r.attempt === attempt - 1);
    if (previous !== undefined && previous.result !== 'sent') return;
    const deployment = previous?.deployment ?? (attempt === 2 ? plan.primary : null);
    if (deployment === null) return;
    const record = { attempt: attempt - 1, deployment, status: null, result: 'failed', next: null, atMs: previous?.atMs ?? now };
    settleAttempt(this.p, requestId, plan.id, record, { kind: 'failed' }, attempt - 1 === 1 ? 'first' : 'fallback');
  }

  /**
   * An attempt at a deployment with another model id or another format: the body Envoy buffered
   * (OpenAI's format, as the request phase wrote it), as this deployment's adapter writes it.
   */
  onRequestBody(body: Buffer): Outcome {
    this.finished = true;
    const d = this.deployment!;
    try {
      const rewritten = attemptBody(body, this.api, d);
      if (rewritten === null) return PASS;
      const setHeaders: HeaderPair[] = [['content-length', String(rewritten.length)]];
      // Signed last: the signature covers this attempt's path, host and body as they leave.
      if (d.signer !== null) setHeaders.push(...d.signer(d.paths[this.call]!, rewritten, this.p.env.now()));
      return { kind: 'continue', setHeaders, removeHeaders: [], body: rewritten };
    } catch (err) {
      // The request phase parsed and re-wrote this body, so this cannot happen; if it does, say so.
      this.p.log.error({ err, deployment: d.name }, 'fallback hop: request body unreadable');
      return PASS;
    }
  }

  onResponseHeaders(): Outcome {
    return PASS;
  }

  onResponseBody(): Outcome {
    return PASS;
  }

  get done(): boolean {
    return this.finished;
  }

  onEnd(): void {
    this.finished = true;
  }

  private ignore(): Outcome {
    // Not a request the router routed (or Envoy's config lacks the attributes): nothing to do.
    this.finished = true;
    return PASS;
  }
}

export class FailedAttempt implements StreamHandler {
  private requestId = '';
  private deployment: Deployment | null = null;
  private plan: Plan | null = null;
  private attempt = 1;
  private status = 0;
  /** The deployment whose cluster is already named for the next attempt. */
  private next: string | null = null;
  private atMs = 0;
  private finished = false;

  constructor(private readonly p: Pipeline) {}

  onRequestHeaders(): Outcome {
    return PASS;
  }

  onRequestBody(): Outcome {
    return PASS;
  }

  onResponseHeaders(headers: Headers, endOfStream: boolean, attributes: Attributes): Outcome {
    const plan = parsePlan(attributes.plan ?? undefined, this.p.known);
    const d = attributes.cluster === null ? undefined : this.p.knownClusters.get(attributes.cluster);
    if (plan === null || d === undefined) {
      this.finished = true;
      return PASS;
    }
    this.requestId = clipped(attributes.requestId ?? '');
    this.deployment = d;
    this.plan = plan;
    this.attempt = attributes.attempt ?? 1;
    this.next = attributes.nextCluster === null ? null : (this.p.knownClusters.get(attributes.nextCluster)?.name ?? null);
    this.atMs = this.p.env.now();
    this.status = Number(headers[':status'] ?? 0);
    if (this.p.config.routing.providerLimitHeaders) this.recordProviderLimits(d, headers);
    const retryAt = retryAtMs(headers, this.atMs);
    const result = attemptResult(this.status, retryAt);
    const setHeaders: HeaderPair[] = [];
    // Envoy waits out a Retry-After only when it retries the same deployment; a hop goes at once.
    if (result.kind === 'rate_limited' && retryAt !== null && this.next === d.name) {
      setHeaders.push([BACKOFF_HEADER, String(Math.max(1, Math.ceil((retryAt - this.atMs) / 1000)))]);
    }
    if (result.kind === 'refused' && this.status === 400 && !endOfStream && plan.hops.some((h) => h.serves.size > 0)) {
      return { kind: 'continue', setHeaders, removeHeaders: [], readBody: 'buffered' };
    }
    this.finish(result, null);
    return setHeaders.length === 0 ? PASS : { kind: 'continue', setHeaders, removeHeaders: [] };
  }

  /** A 400 read whole: a refusal of a fallback kind goes on when a later hop serves its reason. */
  onResponseBody(chunk: Buffer): Outcome {
    const reason = this.deployment!.adapter.fallbackReasonOf(chunk);
    const now = this.atMs;
    const takenOver = reason !== null && nextHop(this.plan!, this.deployment!.name, (name) => this.p.usable(name, now), reason) !== null;
    this.finish({ kind: 'refused' }, takenOver ? reason : null);
    return takenOver ? { kind: 'continue', setHeaders: [[RETRY_HEADER, reason]], removeHeaders: [] } : PASS;
  }

  get done(): boolean {
    return this.finished;
  }

  onEnd(): void {
    this.finished = true;
  }

  private finish(result: AttemptResult, reason: FallbackReason | null): void {
    if (this.finished) return;
    this.finished = true;
    const d = this.deployment!;
    const record = { attempt: this.attempt, deployment: d.name, status: this.status, result: reason ?? result.kind, next: this.next, atMs: this.atMs };
    settleAttempt(this.p, this.requestId, this.plan!.id, record, result, d.name === this.plan!.primary && this.attempt === 1 ? 'first' : 'fallback');
  }

  private recordProviderLimits(d: Deployment, headers: Headers): void {
    const limits = d.adapter.rateLimitsOf(headers, this.atMs);
    if (limits === null) return;
    this.p.store.recordProviderLimits(d.name, limits).catch((err: unknown) => {
      this.p.storeError(err, 'provider limits not recorded in the state store', { requestId: this.requestId, deployment: d.name });
    });
  }
}

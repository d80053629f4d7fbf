/**
 * One `Attempt` per try Envoy makes of a request, driven by the router's *upstream* ext_proc filter
 * (envoy.yaml: the router filter's `upstream_http_filters`), which runs after Envoy picked the
 * deployment's cluster, once per attempt, retries and fallback hops included.
 *
 *   request headers  → which deployment and attempt (Envoy attributes); the plan from the request
 *                      phase; name the cluster of the *next* attempt (Envoy re-reads it on retry:
 *                      `refresh_cluster_on_retry`); on a fallback hop, this deployment's credential
 *   request body     → only on a hop whose model id differs: the model id rewritten
 *   response headers → status, `Retry-After`, providers' limit headers: cooldowns, failure counts;
 *                      a 400 is read whole when the next hop could take it over
 *   response body    → a content-filter refusal or context-length error the next hop serves is
 *                      marked retriable (`x-llm-retry`), so Envoy falls back
 *   end              → no response at all (refused, reset, timed out) is a failure too
 */
import type { Deployment } from '../config/compile.js';
import { fallbackReasonOf } from '../providers/openai/errors.js';
import { rateLimitsOf } from '../providers/openai/rate-limit-headers.js';
import { retryAtMs } from '../providers/retry-after.js';
import { attemptResult, cooldownAfter, type AttemptResult } from '../routing/cooldown.js';
import { FALLBACK_REASONS, nextHop, parsePlan, type FallbackReason, type Hop, type Plan } from '../routing/plan.js';
import type { Pipeline } from './pipeline.js';
import { PASS, type Attributes, type HeaderPair, type Headers, type Outcome, type StreamHandler } from './types.js';
import { ATTEMPT_COUNT_HEADER, credentialHeaders, PLAN_HEADER } from './upstream.js';

/** A response header that makes Envoy retry (route `retriable_headers`); removed before the client sees it. */
export const RETRY_HEADER = 'x-llm-retry';
/** Seconds Envoy's rate-limited back-off waits before retrying the same deployment (`rate_limited_retry_back_off`). */
export const BACKOFF_HEADER = 'x-llm-backoff';

const COUNT_ONLY: readonly string[] = [ATTEMPT_COUNT_HEADER];

export class Attempt implements StreamHandler {
  private requestId = '';
  private deployment: Deployment | null = null;
  private plan: Plan | null = null;
  private attempt = 1;
  private primary = true;
  /** Where Envoy sends the next attempt; null: this deployment again. */
  private next: Hop | null = null;
  private startMs = 0;
  private status: number | null = null;
  private finished = false;

  constructor(private readonly p: Pipeline) {}

  onRequestHeaders(headers: Headers, _endOfStream: boolean, attributes: Attributes): Outcome {
    const plan = parsePlan(headers[PLAN_HEADER], this.p.config.deployments);
    const d = attributes.cluster === null ? undefined : this.p.config.deployments.get(attributes.cluster);
    if (plan === null || d === undefined) {
      // Not a request the router routed (or Envoy's config lacks the attributes): nothing to do.
      this.finished = true;
      return PASS;
    }
    this.requestId = headers['x-request-id'] ?? '';
    this.deployment = d;
    this.plan = plan;
    this.attempt = attributes.attempt ?? 1;
    this.startMs = this.p.env.now();
    this.primary = d.name === plan.primary;
    // After a refusal of a fallback kind (seen by this process), the next hop is one that serves it.
    const earlier = this.p.attempts.peek(this.requestId);
    const last = earlier.length === 0 ? null : earlier[earlier.length - 1]!.result;
    const reason = FALLBACK_REASONS.find((r) => r === last) ?? null;
    this.next = nextHop(plan, d.name, this.usable, reason);
    // Without the attempt count, Envoy's matcher reads x-llm-cluster for the next attempt (envoy.yaml).
    const setHeaders: HeaderPair[] = [[this.p.config.clusterHeader, this.next?.deployment ?? d.name]];
    if (this.primary) return { kind: 'continue', setHeaders, removeHeaders: COUNT_ONLY };
    const credential = credentialHeaders(d);
    setHeaders.push(...credential.set);
    const readRequestBody = d.providerModel !== this.p.config.deployments.get(plan.primary)!.providerModel;
    return { kind: 'continue', setHeaders, removeHeaders: [ATTEMPT_COUNT_HEADER, ...credential.remove], readRequestBody };
  }

  /** A fallback hop to a deployment with another model id: the body as the primary got it, with this one's. */
  onRequestBody(body: Buffer): Outcome {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      parsed.model = this.deployment!.providerModel;
      const rewritten = Buffer.from(JSON.stringify(parsed));
      return { kind: 'continue', setHeaders: [['content-length', String(rewritten.length)]], removeHeaders: [], body: rewritten };
    } catch (err) {
      // The request phase parsed and re-wrote this body, so this cannot happen; if it does, say so.
      this.p.log.error({ err, requestId: this.requestId, deployment: this.deployment?.name }, 'fallback hop: request body unreadable');
      return PASS;
    }
  }

  onResponseHeaders(headers: Headers, endOfStream: boolean, _attributes?: Attributes): Outcome {
    const d = this.deployment;
    if (d === null) return PASS;
    const now = this.p.env.now();
    this.status = Number(headers[':status'] ?? 0);
    if (this.p.config.routing.providerLimitHeaders) this.recordProviderLimits(d, headers, now);
    const retryAt = retryAtMs(headers, now);
    const result = attemptResult(this.status, retryAt);
    const setHeaders: HeaderPair[] = [];
    // Envoy waits out a Retry-After only when it retries the same deployment; a hop goes at once.
    if (result.kind === 'rate_limited' && this.next === null && retryAt !== null) {
      setHeaders.push([BACKOFF_HEADER, String(Math.max(1, Math.ceil((retryAt - now) / 1000)))]);
    }
    if (result.kind === 'refused' && this.status === 400 && !endOfStream && this.next !== null && this.plan!.hops.some((h) => h.serves.size > 0)) {
      return { kind: 'continue', setHeaders, removeHeaders: [], readBody: 'buffered' };
    }
    this.finish(result, null);
    return setHeaders.length === 0 ? PASS : { kind: 'continue', setHeaders, removeHeaders: [] };
  }

  /**
   * A 400 read whole: a content-filter refusal or context-length error goes on to the next hop
   * when some hop left serves its reason (the next one, or one its attempt will name).
   */
  onResponseBody(chunk: Buffer, _endOfStream: boolean, _attributes?: Attributes): Outcome {
    const reason = fallbackReasonOf(chunk);
    const takenOver = reason !== null && this.next !== null && nextHop(this.plan!, this.deployment!.name, this.usable, reason) !== null;
    this.finish({ kind: 'refused' }, takenOver ? reason : null);
    return takenOver ? { kind: 'continue', setHeaders: [[RETRY_HEADER, reason]], removeHeaders: [] } : PASS;
  }

  get done(): boolean {
    return this.finished;
  }

  private readonly usable = (deployment: string): boolean => this.p.availability.usable(deployment, this.startMs);

  /** Closed before a response: the connection was refused or reset, or the attempt timed out. */
  onEnd(): void {
    if (!this.finished && this.deployment !== null) this.finish({ kind: 'failed' }, null);
    this.finished = true;
  }

  private finish(result: AttemptResult, fallbackReason: FallbackReason | null): void {
    if (this.finished) return;
    this.finished = true;
    const d = this.deployment!;
    const now = this.p.env.now();
    const outcome = fallbackReason ?? result.kind;
    this.p.metrics.attempts.inc({ deployment: d.name, hop: this.primary ? 'first' : 'fallback', result: outcome });
    this.p.attempts.add(this.requestId, { attempt: this.attempt, deployment: d.name, status: this.status, result: outcome, next: this.next?.deployment ?? null, ms: now - this.startMs });
    const until = cooldownAfter(result, d.name, now, this.p.config.routing, this.p.availability.failures);
    if (until === null) return;
    const cause = result.kind === 'failed' ? 'failures' : result.kind === 'rate_limited' && result.retryAtMs !== null ? 'retry_after' : 'rate_limited';
    this.p.metrics.cooldowns.inc({ deployment: d.name, cause });
    this.p.availability.cool(d.name, until);
    this.p.log.info({ requestId: this.requestId, deployment: d.name, status: this.status, cause, untilMs: until }, 'deployment cooling down');
    this.p.store.coolDown(d.name, until).catch((err: unknown) => this.p.storeError(err, 'cooldown not recorded in the state store', { requestId: this.requestId, deployment: d.name }));
  }

  private recordProviderLimits(d: Deployment, headers: Headers, now: number): void {
    const limits = rateLimitsOf(headers, now);
    if (limits === null) return;
    this.p.store.recordProviderLimits(d.name, limits).catch((err: unknown) => {
      this.p.storeError(err, 'provider limits not recorded in the state store', { requestId: this.requestId, deployment: d.name });
    });
  }
}

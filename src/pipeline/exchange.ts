/**
 * One `Exchange` per HTTP request, driven phase by phase by the Envoy adapter. Each attempt Envoy
 * makes of it (fallback hops included) has an `Attempt` of its own (attempt.ts).
 *
 *   request headers  → endpoint, virtual key, method, content type, size     (exchange.onRequestHeaders)
 *   request body     → parse once, validate, read the candidates' live load, (exchange.onRequestBody)
 *                      shed, choose a deployment and the fallback plan, admit,
 *                      rewrite (upstream.ts)
 *   response headers → only when an operator turns them on (envoy.yaml skips  (exchange.onResponseHeaders)
 *                      them): status, time to first byte, read the body or not
 *   response body    → status, the deployment that answered and the format    (exchange.onResponseBody)
 *                      from the first chunk; usage from JSON or SSE; hide our
 *                      usage chunk; an error event after a stream cut short
 *   end              → one usage record and one log line (with the decision  (exchange.onEnd)
 *                      record and the attempts), the load released, however it ended
 */
import { randomUUID } from 'node:crypto';
import { hashKey, mayRequest, presentedKey, type VirtualKey } from '../auth/keys.js';
import { deploymentBudgetCharges, hasDeploymentBudgets, plannedCharges, worstCaseNanos } from '../admission/charges.js';
import { refusal } from '../admission/refusal.js';
import { shedding } from '../admission/shedding.js';
import type { Deployment, ModelGroup } from '../config/compile.js';
import { RouterError } from '../errors.js';
import type { ResponseObserver, ResponseReport } from '../providers/openai/response.js';
import { costNanos, NO_USAGE, type Usage } from '../providers/usage.js';
import { clipped } from '../telemetry/logger.js';
import { embed } from '../providers/openai/embeddings.js';
import { headAndTail } from '../routing/classifier/semantic.js';
import { decisionRecord, describeDecision } from '../routing/decision.js';
import { routeRequestOf } from '../routing/features.js';
import { completionTokens, earliestRecovery, estimatedPromptTokens, estimatedTokens } from '../routing/filters.js';
import type { LoadsOf, Target } from '../routing/choose.js';
import { formatPlan, plannedHops, type Plan } from '../routing/plan.js';
import type { Decision, Endpoint, ExclusionReason, LoadView, RouteRequest } from '../routing/types.js';
import type { UsageRecord } from '../state/store.js';
import { parseChatRequest, parseEmbeddingsRequest, type ApiRequest } from './api-request.js';
import { NO_ATTRIBUTES, PASS, type Attributes, type HeaderPair, type Headers, type Outcome, type StreamHandler } from './types.js';

import type { Pipeline } from './pipeline.js';
import { settleAttempt } from './attempt.js';
import { Holdings } from './holdings.js';
import { readBody } from './json-body.js';
import { headersNoneReceive, HOP_HEADERS, upstreamRequest } from './upstream.js';

const JSON_HEADERS: readonly HeaderPair[] = [['content-type', 'application/json']];
const NOTHING_SPENT: ReadonlySet<string> = new Set();
const NO_TAGS: readonly string[] = [];
const NO_HEADERS: Headers = {};

/** The error in OpenAI's format, with `Retry-After` when it has one and the decision when debugging. */
function errorReply(err: RouterError, decision: string | null): Outcome {
  const headers: HeaderPair[] = [...JSON_HEADERS];
  if (err.retryAfterSec !== null) headers.push(['retry-after', String(err.retryAfterSec)]);
  headers.push(...err.headers);
  if (decision !== null) headers.push(['x-llm-router-decision', decision]);
  return { kind: 'reply', status: err.status, body: Buffer.from(JSON.stringify(err.toJSON())), headers };
}

/** The content type a body's first bytes show: JSON starts with `{`/`[`, SSE with a field name or `:`. */
function sniffContentType(chunk: Buffer): string {
  let i = 0;
  while (i < chunk.length && (chunk[i] === 0x20 || chunk[i] === 0x0a || chunk[i] === 0x0d || chunk[i] === 0x09)) i++;
  const c = chunk[i];
  if (c === 0x7b || c === 0x5b) return 'application/json';
  if (c === 0x64 || c === 0x65 || c === 0x69 || c === 0x72 || c === 0x3a) return 'text/event-stream';
  return '';
}

/** Exclusions that hold whatever the load: a request refused for these alone gets a 400, not a retriable 503. */
const PERMANENT: ReadonlySet<ExclusionReason> = new Set(['capability', 'context_window']);

/** The paths the router routes, with and without the `/v1` an SDK's base URL may already hold. */
const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/chat/completions', 'chat'],
  ['/v1/embeddings', 'embeddings'],
  ['/embeddings', 'embeddings'],
]);

const UNKNOWN_LOAD: LoadsOf = () => null;

export class Exchange implements StreamHandler {
  private readonly startMs: number;
  private headers: Headers = {};
  private debug = false;
  private requestId = '';
  private method = '';
  private path = '';
  /** The endpoint the path names; null for the models list. */
  private endpoint: Endpoint | null = null;
  private keyId = 'anonymous';
  /** The request's virtual key, when `auth.mode` is `keys`. */
  private key: VirtualKey | null = null;
  private decision: Decision | null = null;
  /** Where the request was sent (attempt 1), and the hops later attempts may take. */
  private deployment: Deployment | null = null;
  private plan: Plan | null = null;
  /** The deployment whose answer the client got: the primary, or a fallback hop. */
  private served: Deployment | null = null;
  /**
   * What the record of a routed request needs of its features: the features themselves (prompt
   * text, metadata) are let go once it is routed, so an open stream holds none of its body.
   */
  private countedTags: readonly string[] = NO_TAGS;
  /** The prompt's tokens as estimated when routed: what a stream cut before the provider's usage report is billed. */
  private promptEstimate = 0;
  private requestedModel: string | null = null;
  private stream = false;
  /** Its load and reservations in the shared state, given back when it ends. */
  private readonly holdings: Holdings;
  /** We turned on `include_usage` for a client that did not ask, so its usage chunk is ours to drop. */
  private hideUsageEvent = false;
  private status = 0;
  private ttfbMs: number | null = null;
  private ttftMs: number | null = null;
  private observer: ResponseObserver | null = null;
  private rejection: RouterError | null = null;
  /** The router answered the client itself (an error or the models list). */
  private answered = false;
  /** When the request body reached the router (performance.now()), until its reply is decided. */
  private bodyAtMs: number | null = null;
  /** Counted among the requests awaiting a routing decision (Pipeline.exchange() counts it). */
  private deciding = true;
  private responseStarted = false;
  private finished = false;

  constructor(private readonly p: Pipeline) {
    this.startMs = p.env.now();
    this.holdings = new Holdings(p, () => this.requestId);
  }

  /** Synchronous unless the presented key must be looked up in the state store. */
  onRequestHeaders(headers: Headers, endOfStream: boolean): Outcome | Promise<Outcome> {
    this.headers = headers;
    // Client-chosen, kept for logs and the usage record: clipped (telemetry/logger.ts).
    this.requestId = clipped(headers['x-request-id'] ?? '');
    this.method = clipped(headers[':method'] ?? '');
    const rawPath = headers[':path'] ?? '';
    const q = rawPath.indexOf('?');
    this.path = clipped(q === -1 ? rawPath : rawPath.slice(0, q));
    try {
      const isModels = this.path === '/v1/models' || this.path === '/models';
      this.endpoint = ENDPOINTS.get(this.path) ?? null;
      if (!isModels && this.endpoint === null) throw new RouterError('not_found', `Unknown request URL: ${this.method} ${this.path}.`);
      if (this.p.config.auth.mode === 'off') {
        this.keyId = this.p.anonymousIds.idOf(headers, this.startMs);
        return this.checkRequest(headers, endOfStream, isModels);
      }
      const presented = presentedKey(headers);
      if (presented === null) throw new RouterError('invalid_api_key', 'Missing API key: send it as Authorization: Bearer <key>.');
      const found = this.p.keys.resolve(hashKey(presented));
      if (!(found instanceof Promise)) return this.authenticated(found, headers, endOfStream, isModels);
      return found.then(
        (key) => this.authenticated(key, headers, endOfStream, isModels),
        (err: unknown) => {
          this.storeError(err, 'virtual key lookup failed');
          return this.reject(new RouterError('auth_unavailable', 'API keys cannot be checked right now; retry shortly.'));
        },
      );
    } catch (err) {
      return this.reject(err);
    }
  }

  private authenticated(key: VirtualKey | null, headers: Headers, endOfStream: boolean, isModels: boolean): Outcome {
    try {
      if (key === null) throw new RouterError('invalid_api_key', 'Incorrect API key provided.');
      if (key.disabled) throw new RouterError('invalid_api_key', `The API key '${key.name}' is disabled.`);
      this.key = key;
      this.keyId = key.name;
      return this.checkRequest(headers, endOfStream, isModels);
    } catch (err) {
      return this.reject(err);
    }
  }

  /** Method, content type and size, once the caller is known. */
  private checkRequest(headers: Headers, endOfStream: boolean, isModels: boolean): Outcome {
    try {
      if (isModels) {
        if (this.method !== 'GET') throw new RouterError('method_not_allowed', `Method ${this.method} is not allowed on ${this.path}.`);
        this.status = 200;
        this.answered = true;
        this.stopDeciding();
        return { kind: 'reply', status: 200, body: this.p.modelsListFor(this.key), headers: JSON_HEADERS };
      }
      if (this.method !== 'POST') throw new RouterError('method_not_allowed', `Method ${this.method} is not allowed on ${this.path}; use POST.`);
      const contentType = headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        throw new RouterError('unsupported_media_type', `Content-Type must be application/json, got '${contentType}'.`);
      }
      const declared = headers['content-length'];
      if (declared !== undefined && Number(declared) > this.p.config.maxRequestBodyBytes) {
        throw new RouterError('body_too_large', `The request body is ${declared} bytes; the limit is ${this.p.config.maxRequestBodyBytes}.`);
      }
      if (endOfStream) throw new RouterError('missing_body', 'The request has no body; expected a JSON object.');
      // Refused now, before the body costs anything, when the router is behind (admission/overload.ts).
      const overloaded = this.p.overloaded(this.key?.tier ?? this.p.config.routing.defaultTier);
      if (overloaded !== null) throw overloaded;
      // With keys, the decision (deployments, exclusions, scores) is shown only to keys allowed to debug.
      this.debug = this.p.config.routing.decisionHeader && (this.key === null || this.key.debug) && headers['x-llm-router-debug'] === '1';
      // The response-headers phase, for this request only, when something must be added to or read from them.
      const limited = this.key !== null && (this.key.rpmLimit !== null || this.key.tpmLimit !== null);
      const responseHeaders = this.debug || limited || this.p.config.routing.providerLimitHeaders;
      const outcome = responseHeaders ? this.p.withResponseHeadersOutcome : this.p.requestHeadersOutcome;
      const none = headersNoneReceive(headers, this.p.forwardable);
      return none.length === 0 ? outcome : { ...outcome, removeHeaders: [...outcome.removeHeaders, ...none] };
    } catch (err) {
      return this.reject(err);
    }
  }

  /** Synchronous for a request the router answers itself; otherwise after reading the live load. */
  onRequestBody(body: Buffer): Outcome | Promise<Outcome> {
    this.bodyAtMs = performance.now();
    try {
      if (body.length > this.p.config.maxRequestBodyBytes) {
        throw new RouterError('body_too_large', `The request body is ${body.length} bytes; the limit is ${this.p.config.maxRequestBodyBytes}.`);
      }
      const text = readBody(body);
      if (typeof text === 'string') return this.withBody(text);
      return text.then(
        (read) => this.withBody(read),
        (err: unknown) => this.reject(err),
      );
    } catch (err) {
      return this.reject(err);
    }
  }

  /** The body read (json-body.ts): validated, its features read, its prompt counted if that may matter. */
  private withBody(text: string): Outcome | Promise<Outcome> {
    try {
      const req = this.endpoint === 'embeddings' ? parseEmbeddingsRequest(text) : parseChatRequest(text);
      this.requestedModel = clipped(req.model);
      this.stream = req.stream;
      if (this.key !== null && !mayRequest(this.key, req.model)) {
        throw new RouterError('model_not_allowed', `The API key '${this.key.name}' may not use the model '${req.model}'.`, 'model');
      }
      const features = routeRequestOf(req.body, this.headers, this.p.config.routing, this.key, req.endpoint);
      // A prompt that might not fit a context window (or meets a token rule) is counted, within its
      // budget and in slices that let other requests through (token-counting.ts).
      // A budget of 0 counts nothing exactly: every prompt is taken at its bound.
      if (this.p.config.tokenCountBudgetMs > 0 && features.promptTokensBound + (features.maxTokens ?? 0) >= this.p.config.countTokensAbove) {
        return this.p.tokenCounting.count(features.prompt, this.p.config.tokenCountBudgetMs).then(
          (tokens) => this.resolveAndRoute(req, { ...features, promptTokensCounted: tokens }),
          (err: unknown) => this.reject(err),
        );
      }
      return this.resolveAndRoute(req, features);
    } catch (err) {
      return this.reject(err);
    }
  }

  private resolveAndRoute(req: ApiRequest, features: RouteRequest): Outcome | Promise<Outcome> {
    if (!this.p.router.wantsEmbedding(features)) return this.routeWith(req, features, null);
    const endpoint = this.p.config.virtualModels.get(features.model)!.semantic!.embeddings!;
    return embed(endpoint, [headAndTail(features.lastUserText)]).then(
      ([vector]) => this.routeWith(req, features, vector!),
      (err: unknown) => {
        // The local matcher decides instead: a slow or failing endpoint never fails the request.
        this.p.log.warn({ err, requestId: this.requestId, url: endpoint.url }, 'embeddings endpoint failed: classifying locally');
        return this.routeWith(req, features, null);
      },
    );
  }

  private routeWith(req: ApiRequest, features: RouteRequest, promptVector: Float32Array | null): Outcome | Promise<Outcome> {
    try {
      const target = this.p.router.resolve(features, promptVector);
      if (target === null) throw new RouterError('model_not_found', `The model '${req.model}' does not exist or you do not have access to it.`, 'model');
      return this.withLoad(target, features, (loadsOf, spent) => {
        const shed = shedding(this.p.config, features.tier, target.group.name, loadsOf(target.group));
        if (shed === null) return this.route(req, features, target, loadsOf, spent);
        // Degrading is a fallback too: never to a group the key may not use.
        const degradeTo = shed.degradeTo !== null && this.p.router.mayServe(features, shed.degradeTo) ? shed.degradeTo : null;
        this.p.metrics.shed.inc({ tier: features.tier ?? '', group: target.group.name, action: degradeTo === null ? 'refused' : 'degraded' });
        if (degradeTo === null) {
          throw new RouterError(
            'overloaded',
            `'${req.model}' is at capacity for tier '${features.tier}' (${shed.inFlight} requests in flight, limit ${shed.limit}); retry shortly.`,
            null,
            1,
          );
        }
        const degraded = { group: this.p.config.groups.get(degradeTo)!, classification: target.classification };
        return this.withLoad(degraded, features, (degradedLoads, degradedSpent) => this.route(req, features, degraded, degradedLoads, degradedSpent));
      });
    } catch (err) {
      return this.reject(err);
    }
  }

  /**
   * Reads the live load of every deployment the request may be routed or fall back to — and, when
   * provider or model-group budgets exist, which of them this request's worst-case cost would take
   * past one — then decides. Without the store it decides on configuration.
   */
  private withLoad(
    target: NonNullable<Target>,
    features: RouteRequest,
    next: (loadsOf: LoadsOf, spent: ReadonlySet<string>) => Outcome | Promise<Outcome>,
  ): Promise<Outcome> {
    const run = (loadsOf: LoadsOf, spent: ReadonlySet<string>): Outcome | Promise<Outcome> => {
      try {
        return next(loadsOf, spent);
      } catch (err) {
        return this.reject(err);
      }
    };
    const groups = this.p.router.reachable(target.group);
    const deployments = groups.length === 1 ? target.group.deployments : groups.flatMap((g) => g.deployments);
    const names = deployments.map((d) => d.name);
    const now = this.p.env.now();
    const budgets = deployments.map((d) => {
      const prompt = estimatedPromptTokens(features);
      return deploymentBudgetCharges(d, worstCaseNanos(prompt, completionTokens(features, this.p.config.defaultMaxTokens), d), now, this.p.config);
    });
    const charges = budgets.flat();
    return Promise.all([this.p.store.loadOf(names, now), charges.length === 0 ? [] : this.p.store.used(charges)]).then(
      ([loads, used]) => {
        const spent = new Set<string>();
        let i = 0;
        for (const [j, own] of budgets.entries()) {
          for (const c of own) if (used[i++]! + c.amount > c.limit) spent.add(deployments[j]!.name);
        }
        this.p.availability.learn(names, loads);
        return run(loadsByGroup(groups, loads), spent);
      },
      (err: unknown) => {
        // Without the shared state, route on configuration alone rather than fail the request.
        this.storeError(err, 'load unavailable from the state store: routing without it');
        return run(UNKNOWN_LOAD, NOTHING_SPENT);
      },
    );
  }

  private route(req: ApiRequest, features: RouteRequest, target: NonNullable<Target>, loadsOf: LoadsOf, spent: ReadonlySet<string>): Outcome | Promise<Outcome> {
    try {
      const avoid = { budgetSpent: spent, unhealthy: this.p.availability.unhealthy };
      const decision = this.p.router.choose(features, target, loadsOf, this.p.env, avoid);
      this.decision = decision;
      this.p.count(decision);
      if (decision.outcome !== 'routed') {
        const excluded = decision.outcome === 'no_candidates' ? decision.excluded : [];
        const why = excluded.map((e) => `${e.deployment}: ${e.reason} (${e.detail})`).join('; ');
        const recovery = earliestRecovery(excluded);
        if (recovery !== null) {
          const retryAfterSec = Math.max(1, Math.ceil((recovery - this.p.env.now()) / 1000));
          throw new RouterError('rate_limited', `Every deployment of '${req.model}' is rate limited or cooling down: ${why}. Retry after ${retryAfterSec} s.`, null, retryAfterSec);
        }
        if (excluded.length > 0 && excluded.every((e) => PERMANENT.has(e.reason))) {
          throw new RouterError('unsupported_request', `No deployment of '${req.model}' can serve this request: ${why}.`, 'model');
        }
        throw new RouterError('no_deployment', `No deployment of '${req.model}' can take this request now: ${why}.`, 'model');
      }
      const d = decision.primary;
      this.plan = { endpoint: req.endpoint, primary: d.name, hops: req.disableFallbacks ? [] : this.p.router.hops(features, decision, loadsOf, this.p.env, avoid) };
      const charges = plannedCharges(
        { key: this.key, tags: features.tags, tier: features.tier, promptTokens: estimatedPromptTokens(features), completionTokens: completionTokens(features, this.p.config.defaultMaxTokens), deployment: d, nowMs: this.startMs },
        this.p.config,
      );
      // Nothing to reserve: no admission, unless a planned hop has budgets. Its cost is settled against
      // this request's reservation (holdings.settle), so an empty one is made to settle against.
      if (charges.length === 0 && !this.plan.hops.some((h) => hasDeploymentBudgets(this.p.config.deployments.get(h.deployment)!, this.p.config))) return this.forward(req, features, d);
      const id = randomUUID();
      return this.p.store.admit(id, charges).then(
        (result) => {
          if (!result.ok) return this.reject(refusal(charges[result.refused]!, result.used, result.buckets, this.p.env.now()));
          this.holdings.admitted(id, charges, result.used);
          return this.forward(req, features, d);
        },
        (err: unknown) => {
          // The configured policy per kind of check: fail open (unmetered) or closed (503).
          const policy = this.p.config.onStoreFailure;
          const closed = charges.some((c) => (c.kind === 'cost' ? policy.budgets : policy.rateLimits) === 'closed');
          this.storeError(err, closed ? 'admission check failed in the state store: refusing' : 'admission check failed in the state store: admitting without limits');
          if (closed) return this.reject(new RouterError('admission_unavailable', 'Limits cannot be checked right now; retry shortly.', null, 1));
          // The reservation may have landed after all (a timeout is not a refusal): it is settled like
          // any other, and a settlement of a reservation that never landed changes nothing.
          this.holdings.admitted(id, charges, null);
          return this.forward(req, features, d);
        },
      );
    } catch (err) {
      return this.reject(err);
    }
  }

  /** The request goes upstream to `d`: counted in its load, routed, its body rewritten if needed. */
  /** The body phase ends in forward() or reject(): what the router added before the request went on. */
  private decided(): void {
    this.stopDeciding();
    if (this.bodyAtMs === null) return;
    this.p.metrics.decision.observe((performance.now() - this.bodyAtMs) / 1000);
    this.bodyAtMs = null;
  }

  private forward(req: ApiRequest, features: RouteRequest, d: Deployment): Outcome {
    this.decided();
    try {
      this.deployment = d;
      this.served = d;
      this.plan = { ...this.plan!, id: this.p.attempts.open() };
      this.countedTags = features.countedTags;
      this.promptEstimate = estimatedPromptTokens(features);
      this.holdings.holdLoad(d, this.startMs, estimatedTokens(features));
      const hops = plannedHops(this.plan!, HOP_HEADERS.length, (name) => this.p.usable(name, this.startMs));
      const planned = [d, ...this.plan!.hops.map((h) => this.p.known.get(h.deployment)!)];
      const client = { headers: this.headers, any: this.p.forwardable, planned };
      const upstream = upstreamRequest(req, d, this.p.config.clusterHeader, formatPlan(this.plan!), hops, client);
      this.hideUsageEvent = upstream.hideUsageEvent;
      // An open stream keeps nothing of its request it no longer reads (bench/results/memory).
      this.headers = NO_HEADERS;
      return upstream.outcome;
    } catch (err) {
      return this.reject(err);
    }
  }

  onResponseHeaders(headers: Headers, endOfStream: boolean, attributes: Attributes = NO_ATTRIBUTES): Outcome {
    this.startResponse(Number(headers[':status'] ?? 0), headers['content-type'] ?? '', attributes);
    if (this.served !== null && this.p.config.routing.providerLimitHeaders) this.recordProviderLimits(this.served, headers);
    const setHeaders: HeaderPair[] = this.debug && this.decision !== null ? [['x-llm-router-decision', this.describeWithAttempts(this.decision)]] : [];
    setHeaders.push(...this.holdings.limitHeaders(this.p.env.now()));
    if (this.deployment === null) return setHeaders.length === 0 ? PASS : { kind: 'continue', setHeaders, removeHeaders: [] };
    if (endOfStream) {
      this.finish(true);
      return setHeaders.length === 0 ? PASS : { kind: 'continue', setHeaders, removeHeaders: [] };
    }
    if (this.observer === null && setHeaders.length === 0) return PASS;
    return { kind: 'continue', setHeaders, removeHeaders: [], readBody: this.observer === null ? undefined : 'streamed' };
  }

  /**
   * A response body chunk. When Envoy skips the response-headers phase (a configuration with one
   * message less per request), the first chunk starts the response: its status comes from the
   * `response.code` attribute and its format from the first bytes.
   */
  onResponseBody(chunk: Buffer, endOfStream: boolean, attributes: Attributes = NO_ATTRIBUTES): Outcome {
    if (!this.responseStarted) {
      if (chunk.length === 0 && !endOfStream) return PASS;
      this.startResponse(attributes.status ?? 0, sniffContentType(chunk), attributes);
    }
    if (this.ttftMs === null && chunk.length > 0) this.ttftMs = this.p.env.now() - this.startMs;
    const replacement = this.observer?.push(chunk, endOfStream) ?? null;
    if (endOfStream) this.finish(true);
    return replacement === null ? PASS : { kind: 'continue', setHeaders: [], removeHeaders: [], body: replacement };
  }

  /** The decision summary, and the attempts so far as this process saw them (`a:429,b:200`). */
  private describeWithAttempts(decision: Decision): string {
    const attempts = this.p.attempts.peek(this.plan?.id);
    if (attempts.length === 0) return describeDecision(decision);
    return `${describeDecision(decision)}; attempts=${attempts.map((a) => `${a.deployment}:${a.status ?? 'no-response'}`).join(',')}`;
  }

  /**
   * The response starts. Envoy's attributes say which deployment it came from (`xds.cluster_name`) and
   * after how many attempts: when a fallback hop answered, the load moves to it and its prices bill
   * the request; the final attempt's outcome is settled like any other attempt's.
   */
  private startResponse(status: number, contentType: string, attributes: Attributes): void {
    this.responseStarted = true;
    this.status = status;
    const now = this.p.env.now();
    this.ttfbMs = now - this.startMs;
    if (this.deployment === null) return;
    const served = attributes.cluster === null ? undefined : this.p.config.deployments.get(attributes.cluster);
    if (served !== undefined && served !== this.served) {
      this.served = served;
      this.holdings.moveLoad(served, now);
    }
    this.observer = this.served!.adapter.observeResponse(contentType, this.hideUsageEvent);
    if (attributes.attempt !== null) this.settleFinalAttempt(attributes.attempt, now);
  }

  /**
   * The last attempt: a success no upstream filter was asked about, or a failure none answered (Envoy's
   * own 503 after a refused connection). One the failed-attempt filter saw is already settled.
   */
  private settleFinalAttempt(attempt: number, now: number): void {
    const d = this.served!;
    const hop = attempt === 1 ? 'first' : 'fallback';
    if (this.status >= 200 && this.status < 300) {
      settleAttempt(this.p, this.requestId, this.plan?.id, { attempt, deployment: d.name, status: this.status, result: 'ok', next: null, atMs: now }, { kind: 'ok' }, hop);
      return;
    }
    const seen = this.p.attempts.peek(this.plan?.id).find((r) => r.attempt === attempt);
    if (seen === undefined || seen.result === 'sent') {
      settleAttempt(this.p, this.requestId, this.plan?.id, { attempt, deployment: d.name, status: null, result: 'failed', next: null, atMs: now }, { kind: 'failed' }, hop);
    }
  }

  private recordProviderLimits(d: Deployment, headers: Headers): void {
    const limits = d.adapter.rateLimitsOf(headers, this.p.env.now());
    if (limits === null) return;
    this.p.store.recordProviderLimits(d.name, limits).catch((err: unknown) => {
      this.storeError(err, 'provider limits not recorded in the state store', { deployment: d.name });
    });
  }

  /**
   * True once nothing more of this request needs the router: it was answered by the router, its
   * response body is not read, or the body has ended. The adapter then closes the stream itself.
   */
  get done(): boolean {
    return this.answered || this.finished || (this.responseStarted && this.observer === null);
  }

  /** The gRPC stream closed: Envoy finished, the client went away or the upstream broke. */
  onEnd(): void {
    this.stopDeciding();
    if (!this.finished) this.finish(false);
  }

  private stopDeciding(): void {
    if (!this.deciding) return;
    this.deciding = false;
    this.p.doneDeciding();
  }

  private storeError(err: unknown, message: string, extra: Record<string, unknown> = {}): void {
    this.p.storeError(err, message, { requestId: this.requestId, ...extra });
  }

  private reject(err: unknown): Outcome {
    this.decided();
    const routerError =
      err instanceof RouterError ? err : new RouterError('internal_error', `Internal error while routing request ${this.requestId}.`);
    if (!(err instanceof RouterError)) this.p.log.error({ err, requestId: this.requestId }, 'unexpected error in the request pipeline');
    this.rejection = routerError;
    this.answered = true;
    this.status = routerError.status;
    return errorReply(routerError, this.debug && this.decision !== null ? describeDecision(this.decision) : null);
  }

  /**
   * A stream that ended without the provider's usage report is billed for what the client got: the
   * prompt as estimated when it was routed and one completion token per content event delivered,
   * which is how providers stream.
   */
  private billedUsage(report: ResponseReport): { usage: Usage; estimated: boolean } {
    if (report.usage !== null) return { usage: report.usage, estimated: false };
    if (!this.stream || report.contentEvents === 0) return { usage: NO_USAGE, estimated: false };
    const promptTokens = this.promptEstimate;
    const completionTokens = report.contentEvents;
    return { usage: { promptTokens, cachedPromptTokens: 0, completionTokens, reasoningTokens: 0, totalTokens: promptTokens + completionTokens }, estimated: true };
  }

  private finish(complete: boolean): void {
    this.finished = true;
    const now = this.p.env.now();
    const latencyMs = now - this.startMs;
    const d = this.served;
    const decision = this.decision;
    const routing: Record<string, unknown> | undefined = decision === null ? undefined : decisionRecord(decision);
    if (d === null) {
      this.p.log.info(
        { requestId: this.requestId, method: this.method, path: this.path, status: this.status, error: this.rejection?.code, requestedModel: this.requestedModel, routing, latencyMs },
        'request',
      );
      return;
    }
    if (routing !== undefined) {
      routing.plan = this.plan === null ? undefined : formatPlan(this.plan);
      routing.attempts = this.p.attempts.take(this.plan?.id);
      routing.served = d.name;
    }
    const report = this.observer?.report() ?? { usage: null, responseModel: null, contentEvents: 0, complete: false };
    const { usage, estimated } = this.billedUsage(report);
    const reported = report.usage !== null;
    // The client got the whole answer (no cut, no error event of ours), with the provider's usage.
    const whole = complete && reported && report.complete;
    const cost = costNanos(usage, d.price);
    this.holdings.settle(reported || estimated ? { tokens: usage.totalTokens, costNanos: cost } : null, !this.responseStarted || this.status >= 400, d === this.deployment ? null : d);
    // Only the deployment the request was sent to, answering in full, gives a latency sample.
    const sample = whole && this.status >= 200 && this.status < 300 && d === this.deployment ? { latencyMs: latencyMs, ttftMs: this.ttftMs } : null;
    this.holdings.releaseLoad(now, reported || estimated ? usage.totalTokens : null, sample);
    const record: UsageRecord = {
      recordId: randomUUID(),
      requestId: this.requestId,
      timestampMs: now,
      keyId: this.keyId,
      team: this.key?.team ?? null,
      tags: this.countedTags,
      requestedModel: this.requestedModel ?? '',
      deployment: d.name,
      provider: d.provider,
      providerModel: d.providerModel,
      responseModel: report.responseModel,
      stream: this.stream,
      status: this.status,
      complete: whole,
      usageEstimated: estimated,
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
      reasoningTokens: usage.reasoningTokens,
      totalTokens: usage.totalTokens,
      costNanos: cost,
      latencyMs,
      ttfbMs: this.ttfbMs,
      ttftMs: this.ttftMs,
    };
    this.p.log.info({ method: this.method, path: this.path, routing, ...record }, 'request');
    this.p.store.recordUsage(record).catch((err: unknown) => {
      // The record is in the log line above; this says it is missing from the store.
      this.p.log.error({ err, requestId: this.requestId, record }, 'usage record not persisted');
    });
  }
}

/** The loads read for `groups`' deployments (in order), per group. */
function loadsByGroup(groups: readonly ModelGroup[], loads: readonly LoadView[]): LoadsOf {
  if (groups.length === 1) return () => loads;
  const byGroup = new Map<string, readonly LoadView[]>();
  let at = 0;
  for (const g of groups) {
    byGroup.set(g.name, loads.slice(at, at + g.deployments.length));
    at += g.deployments.length;
  }
  return (g) => byGroup.get(g.name) ?? null;
}

/**
 * One `Exchange` per HTTP request, driven phase by phase by the Envoy adapter. Each attempt Envoy
 * makes of it (fallback hops included) has an `Attempt` of its own (attempt.ts).
 *
 *   request headers  → endpoint, virtual key, method, content type, size,    (onRequestHeaders)
 *                      overload, the client headers no deployment receives
 *   request body     → the routing stages (request-body.ts: read, validate,  (onRequestBody)
 *                      count, classify, load, shed, choose, admit), then the
 *                      request rewritten for the deployment (upstream.ts)
 *   response headers → only when an operator turns them on (envoy.yaml skips  (onResponseHeaders)
 *                      them): the debug and limit headers; the response side
 *   response body    → the response side (response.ts): the deployment that  (onResponseBody)
 *                      answered, its adapter reading usage and changing what
 *                      the client gets
 *   end              → billed and settled (response.ts); one usage record and  (onEnd)
 *                      one log line with the decision and the attempts
 */
import { randomUUID } from 'node:crypto';
import { hashKey, presentedKey, type VirtualKey } from '../auth/keys.js';
import type { Deployment } from '../config/compile.js';
import { RouterError } from '../errors.js';
import { clipped, infoLine } from '../telemetry/logger.js';
import { decisionRecord, describeDecision } from '../routing/decision.js';
import { estimatedPromptTokens, estimatedTokens } from '../routing/filters.js';
import { formatPlan, plannedHops, type Plan } from '../routing/plan.js';
import type { Decision, Endpoint, RouteRequest } from '../routing/types.js';
import type { UsageRecord } from '../state/store.js';
import type { ApiRequest } from './api-request.js';
import type { AttemptRecord } from './attempts.js';
import { bodyReplaced, NO_ATTRIBUTES, PASS, type Attributes, type HeaderPair, type Headers, type Outcome, type RequestMetadata, type StreamHandler } from './types.js';

import type { Pipeline } from './pipeline.js';
import { Holdings } from './holdings.js';
import { clientError, ownClientError, type ClientApi } from '../providers/client-apis.js';
import { modelsPathOf } from './models-list.js';
import { BodyRouting } from './request-body.js';
import { refusalMetadata, routingMetadata, usageMetadata } from './request-metadata.js';
import { ResponseSide } from './response.js';
import { headersNoneReceive, HOP_HEADERS, upstreamRequest } from './upstream.js';
import type { CacheEntry } from '../cache/entry.js';
import { hitReply, type RequestCache } from '../cache/request.js';
import { NO_USAGE, type Usage } from '../providers/usage.js';
import { RequestSpans } from '../telemetry/tracing-spans.js';

const JSON_HEADERS: readonly HeaderPair[] = [['content-type', 'application/json']];
const NO_TAGS: readonly string[] = [];
const NO_HEADERS: Headers = {};
const NO_ATTEMPTS: readonly AttemptRecord[] = [];
const NO_DEPLOYMENTS: readonly string[] = [];

/** The deployments a plan gives the attempts after the first. */
function plannedDeployments(plan: Plan | null): readonly string[] {
  return plan === null ? NO_DEPLOYMENTS : plan.hops.map((h) => h.deployment);
}

/** The error as the client's API writes it (`reply`), with `Retry-After` when it has one and the decision when debugging. */
function errorReply(err: RouterError, reply: { status: number; body: unknown }, decision: string | null, metadata: RequestMetadata): Outcome {
  const headers: HeaderPair[] = [...JSON_HEADERS];
  if (err.retryAfterSec !== null) headers.push(['retry-after', String(err.retryAfterSec)]);
  headers.push(...err.headers);
  if (decision !== null) headers.push(['x-llm-router-decision', decision]);
  return { kind: 'reply', status: reply.status, body: Buffer.from(JSON.stringify(reply.body)), headers, metadata };
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

/** The paths the router routes, with and without the `/v1` an SDK's base URL may already hold, and the API each speaks. */
const ENDPOINTS: ReadonlyMap<string, { readonly endpoint: Endpoint; readonly api: ClientApi }> = new Map([
  ['/v1/chat/completions', { endpoint: 'chat', api: 'openai' }],
  ['/chat/completions', { endpoint: 'chat', api: 'openai' }],
  ['/v1/embeddings', { endpoint: 'embeddings', api: 'openai' }],
  ['/embeddings', { endpoint: 'embeddings', api: 'openai' }],
  ['/v1/completions', { endpoint: 'completions', api: 'openai' }],
  ['/completions', { endpoint: 'completions', api: 'openai' }],
  ['/v1/messages', { endpoint: 'chat', api: 'anthropic' }],
  ['/v1/messages/count_tokens', { endpoint: 'count_tokens', api: 'anthropic' }],
]);

/** How a request ended, as its usage record says. */
type RecordOutcome = Pick<UsageRecord, 'status' | 'complete' | 'usageEstimated' | 'costNanos' | 'cache' | 'savedCostNanos' | 'ttfbMs' | 'ttftMs'> & { readonly usage: Usage };

/** Says that a token count is the router's own (o200k), not the model's tokenizer's. */
const ESTIMATE_HEADER: HeaderPair = ['x-llm-token-count', 'estimate'];

export class Exchange implements StreamHandler {
  private readonly startMs: number;
  private headers: Headers = {};
  private debug = false;
  private requestId = '';
  private method = '';
  private path = '';
  /** The endpoint the path names; null for the models API. */
  private endpoint: Endpoint | null = null;
  /** The models API: '' for the list, a model's id; null for any other path. */
  private modelsPath: string | null = null;
  /** The API the client speaks: its errors and answers are written in it. */
  private api: ClientApi = 'openai';
  private keyId = 'anonymous';
  /** The request's virtual key, when `auth.mode` is `keys`. */
  private key: VirtualKey | null = null;
  private decision: Decision | null = null;
  /** The hops attempts after the first may take. */
  private plan: Plan | null = null;
  /** Once the request went upstream: its response, read and billed (response.ts). */
  private response: ResponseSide | null = null;
  /** A token count passed to a deployment that counts: its name, for the log line (nothing is billed). */
  private countedBy: string | null = null;
  /**
   * What the record of a routed request needs of its features: the features themselves (prompt
   * text, metadata) are let go once it is routed, so an open stream holds none of its body.
   */
  private countedTags: readonly string[] = NO_TAGS;
  private requestedModel: string | null = null;
  private stream = false;
  /** What the exact cache found, for a group that caches. */
  private cache: RequestCache | null = null;
  /** Its load and reservations in the shared state, given back when it ends. */
  private readonly holdings: Holdings;
  /** Of a request the router answered (or never routed): the status the log line gives. */
  private status = 0;
  private rejection: RouterError | null = null;
  /** The router answered the client itself (an error or the models list). */
  private answered = false;
  /** When the request body reached the router (performance.now()), until its reply is decided. */
  private bodyAtMs: number | null = null;
  /** Counted among the requests awaiting a routing decision (Pipeline.exchange() counts it). */
  private deciding = true;
  /** A response reached a request the router did not send upstream: nothing to read of it. */
  private unroutedResponse = false;
  private finished = false;
  /** Its spans, when the request is traced. */
  private spans: RequestSpans | null = null;

  constructor(
    private readonly p: Pipeline,
    /** Envoy's span of the ext_proc call; without it, the client's `traceparent` header. */
    private readonly traceparent?: string,
  ) {
    this.startMs = p.env.now();
    this.holdings = new Holdings(p, () => this.requestId);
  }

  /** Synchronous unless the presented key must be looked up in the state store. */
  onRequestHeaders(headers: Headers, endOfStream: boolean): Outcome | Promise<Outcome> {
    this.headers = headers;
    // Client-chosen, kept for logs and the usage record: clipped (telemetry/logger.ts).
    this.requestId = clipped(headers['x-request-id'] ?? '');
    this.spans = RequestSpans.begin(this.p.tracer, this.traceparent ?? headers.traceparent, this.startMs, this.requestId);
    this.method = clipped(headers[':method'] ?? '');
    const rawPath = headers[':path'] ?? '';
    const q = rawPath.indexOf('?');
    this.path = clipped(q === -1 ? rawPath : rawPath.slice(0, q));
    try {
      this.modelsPath = modelsPathOf(this.path);
      const isModels = this.modelsPath !== null;
      const routed = ENDPOINTS.get(this.path);
      this.endpoint = routed?.endpoint ?? null;
      this.api = routed?.api ?? 'openai';
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
        const id = this.modelsPath!;
        const body = id === '' ? this.p.modelsListFor(this.key) : this.p.modelFor(this.key, id);
        if (body === null) throw new RouterError('model_not_found', `The model '${clipped(id)}' does not exist or you do not have access to it.`, 'model');
        this.status = 200;
        this.answered = true;
        this.stopDeciding();
        return { kind: 'reply', status: 200, body, headers: JSON_HEADERS };
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
      // Another client API's answers are translated unless a deployment speaks it: their status and length change.
      const responseHeaders = this.debug || limited || this.p.config.routing.providerLimitHeaders || this.api !== 'openai';
      const outcome = responseHeaders ? this.p.withResponseHeadersOutcome : this.p.requestHeadersOutcome;
      const none = headersNoneReceive(headers, this.p.forwardable);
      return none.length === 0 ? outcome : { ...outcome, removeHeaders: [...outcome.removeHeaders, ...none] };
    } catch (err) {
      return this.reject(err);
    }
  }

  /**
   * Routed in stages (request-body.ts), synchronously when none waits on I/O, then rewritten for the
   * deployment chosen; or refused.
   */
  onRequestBody(body: Buffer): Outcome | Promise<Outcome> {
    this.bodyAtMs = performance.now();
    this.spans?.bodyReceived();
    const caller = { endpoint: this.endpoint!, api: this.api, key: this.key, keyId: this.keyId, headers: this.headers, requestId: this.requestId, startMs: this.startMs };
    const routing = new BodyRouting(this.p, caller, this.holdings, body);
    try {
      const waiting = routing.run();
      if (waiting === undefined) return this.routed(routing);
      return waiting.then(
        () => this.routed(routing),
        (err: unknown) => this.refused(routing, err),
      );
    } catch (err) {
      return this.refused(routing, err);
    }
  }

  private routed(routing: BodyRouting): Outcome {
    this.keepRouting(routing);
    this.spans?.routed(this.endpoint!, this.requestedModel, this.decision, plannedDeployments(this.plan), routing.admitMs, null);
    if (routing.req!.endpoint === 'count_tokens') return this.countTokens(routing.req!, routing.body, routing.deployment, routing.inputTokens);
    if (this.cache?.entry != null) return this.answerFromCache(this.cache.entry, routing.features!);
    return this.forward(routing.req!, routing.body, routing.features!, routing.deployment!);
  }

  /**
   * A token count: passed to the deployment that counts, with its path, credential and model id
   * and no plan (no load, reservation, cooldown or usage record: a count is not a completion, and
   * Anthropic limits counts apart from messages); or answered with the router's own count.
   */
  private countTokens(req: ApiRequest, raw: Buffer, d: Deployment | null, inputTokens: number | null): Outcome {
    this.decided();
    try {
      if (d === null) {
        this.status = 200;
        this.answered = true;
        return { kind: 'reply', status: 200, body: Buffer.from(JSON.stringify({ input_tokens: inputTokens })), headers: [...JSON_HEADERS, ESTIMATE_HEADER] };
      }
      this.countedBy = d.name;
      const client = { headers: this.headers, any: this.p.forwardable, planned: [d] };
      const outcome = upstreamRequest(req, raw, d, this.p.config.clusterHeader, null, [d.cluster], client).outcome;
      this.headers = NO_HEADERS;
      return outcome;
    } catch (err) {
      return this.reject(err);
    }
  }

  private refused(routing: BodyRouting, err: unknown): Outcome {
    this.keepRouting(routing);
    const outcome = this.reject(err);
    this.spans?.routed(this.endpoint!, this.requestedModel, this.decision, plannedDeployments(this.plan), routing.admitMs, this.rejection!.code);
    return outcome;
  }

  /** What the response phases and the record need of the routing; the rest (the body, its features) is let go. */
  private keepRouting(routing: BodyRouting): void {
    if (routing.req !== null) {
      this.requestedModel = clipped(routing.req.model);
      this.stream = routing.req.stream;
    }
    this.decision = routing.decision;
    this.plan = routing.plan;
    this.cache = routing.cache;
    // The stream ended while the body was routed: nothing will be stored, and nobody should wait for it.
    if (this.finished) this.cache?.finish(null, '', 0, 0);
  }

  /** A hit: Envoy answers with the stored answer; billed (cost 0, what it saved) when the stream ends. */
  private answerFromCache(entry: CacheEntry, features: RouteRequest): Outcome {
    this.decided();
    this.countedTags = features.countedTags;
    this.status = 200;
    this.answered = true;
    this.headers = NO_HEADERS;
    return hitReply(entry, this.p.env.now(), this.cache!.similarity);
  }

  /** The body phase ends in forward() or reject(): what the router added before the request went on. */
  private decided(): void {
    this.stopDeciding();
    if (this.bodyAtMs === null) return;
    this.p.metrics.decision.observe((performance.now() - this.bodyAtMs) / 1000);
    this.bodyAtMs = null;
  }

  /** The request goes upstream to `d`: counted in its load, routed, its body (`raw`) rewritten if needed. */
  private forward(req: ApiRequest, raw: Buffer, features: RouteRequest, d: Deployment): Outcome {
    this.decided();
    try {
      this.plan = { ...this.plan!, id: this.p.attempts.open() };
      this.countedTags = features.countedTags;
      this.holdings.holdLoad(d, this.startMs, estimatedTokens(features));
      const hops = plannedHops(this.plan!, HOP_HEADERS.length, (name) => this.p.usable(name, this.startMs)).map((name) => this.p.known.get(name)!.cluster);
      const planned = [d, ...this.plan!.hops.map((h) => this.p.known.get(h.deployment)!)];
      const client = { headers: this.headers, any: this.p.forwardable, planned };
      const upstream = upstreamRequest(req, raw, d, this.p.config.clusterHeader, formatPlan(this.plan!), hops, client);
      const sent = { requestId: this.requestId, startMs: this.startMs, deployment: d, planId: this.plan.id, hideUsageEvent: upstream.hideUsageEvent, api: req.api, stream: req.stream, promptEstimate: estimatedPromptTokens(features) };
      this.response = new ResponseSide(this.p, this.holdings, sent);
      this.cache?.startCapture();
      // An open stream keeps nothing of its request it no longer reads (bench/results/memory).
      this.headers = NO_HEADERS;
      return { ...upstream.outcome, metadata: routingMetadata(this.decision, this.requestedModel, d, this.cache?.result ?? null) };
    } catch (err) {
      return this.reject(err);
    }
  }

  onResponseHeaders(headers: Headers, endOfStream: boolean, attributes: Attributes = NO_ATTRIBUTES): Outcome {
    const response = this.response;
    if (response === null) {
      this.unroutedResponse = true;
      this.status = Number(headers[':status'] ?? 0);
    } else {
      response.start(Number(headers[':status'] ?? 0), headers['content-type'] ?? '', attributes);
      if (this.p.config.routing.providerLimitHeaders) response.providerLimits(headers);
    }
    const setHeaders: HeaderPair[] = this.debug && this.decision !== null ? [['x-llm-router-decision', this.describeWithAttempts(this.decision)]] : [];
    setHeaders.push(...this.holdings.limitHeaders(this.p.env.now()));
    if (response === null) return setHeaders.length === 0 ? PASS : { kind: 'continue', setHeaders, removeHeaders: [] };
    const translated = response.clientHeaders();
    setHeaders.push(...translated.set);
    const removeHeaders = translated.remove;
    if (endOfStream) return { kind: 'continue', setHeaders, removeHeaders, metadata: this.finish(true) };
    const reading = response.reading || this.cache?.capturing === true;
    if (!reading && setHeaders.length === 0 && removeHeaders.length === 0) return PASS;
    return { kind: 'continue', setHeaders, removeHeaders, readBody: reading ? 'streamed' : undefined };
  }

  /**
   * A response body chunk. When Envoy skips the response-headers phase (a configuration with one
   * message less per request), the first chunk starts the response: its status comes from the
   * `response.code` attribute and its format from the first bytes.
   */
  onResponseBody(chunk: Buffer, endOfStream: boolean, attributes: Attributes = NO_ATTRIBUTES): Outcome {
    const response = this.response;
    if (response === null) {
      if (!this.unroutedResponse) this.status = attributes.status ?? 0;
      this.unroutedResponse = true;
      if (endOfStream) this.finish(true);
      return PASS;
    }
    if (!response.started) {
      if (chunk.length === 0 && !endOfStream) return PASS;
      response.start(attributes.status ?? 0, sniffContentType(chunk), attributes);
    }
    const replacement = response.chunk(chunk, endOfStream);
    this.cache?.capture(replacement ?? chunk);
    if (endOfStream) return bodyReplaced(replacement ?? undefined, this.finish(true));
    return replacement === null ? PASS : bodyReplaced(replacement);
  }

  /** The decision summary, and the attempts so far as this process saw them (`a:429,b:200`). */
  private describeWithAttempts(decision: Decision): string {
    const attempts = this.p.attempts.peek(this.plan?.id);
    if (attempts.length === 0) return describeDecision(decision);
    return `${describeDecision(decision)}; attempts=${attempts.map((a) => `${a.deployment}:${a.status ?? 'no-response'}`).join(',')}`;
  }

  /**
   * True once nothing more of this request needs the router: it was answered by the router, its
   * response body is not read, or the body has ended. The adapter then closes the stream itself.
   */
  get done(): boolean {
    if (this.answered || this.finished) return true;
    return this.response === null ? this.unroutedResponse : this.response.started && !this.response.reading && this.cache?.capturing !== true;
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
    // A request refused in the client's own API's terms (a Messages request Anthropic would refuse).
    const own = ownClientError(err);
    const routerError =
      err instanceof RouterError
        ? err
        : own !== null
          ? new RouterError('invalid_request', (err as Error).message)
          : new RouterError('internal_error', `Internal error while routing request ${this.requestId}.`);
    if (!(err instanceof RouterError) && own === null) this.p.log.error({ err, requestId: this.requestId }, 'unexpected error in the request pipeline');
    this.rejection = routerError;
    this.answered = true;
    const reply = own ?? clientError(this.api, routerError.status, routerError.toJSON());
    this.status = reply.status;
    return errorReply(routerError, reply, this.debug && this.decision !== null ? describeDecision(this.decision) : null, refusalMetadata(routerError.code, this.decision));
  }

  /**
   * The record and log line of the request; what Envoy is told of its usage, for one that went
   * upstream. The reply waits only on the record: its log line, metrics, spans and store write run
   * after the reply is on its way (`afterReply`), so a client never waits on its own accounting.
   */
  private finish(complete: boolean): RequestMetadata | undefined {
    this.finished = true;
    const now = this.p.env.now();
    const latencyMs = now - this.startMs;
    const decision = this.decision;
    const response = this.response;
    const hit = this.cache?.entry ?? null;
    if (response === null && hit === null) {
      this.cache?.finish(null, '', now, 0);
      this.p.env.afterReply(() => this.account(() => {
        this.p.metrics.answered(this.endpoint ?? (this.modelsPath !== null ? 'models' : 'other'), this.status, this.rejection?.code);
        this.spans?.finished(null, null, NO_ATTEMPTS, null, this.status, this.rejection?.code ?? null);
        infoLine(
          this.p.log,
          { requestId: this.requestId, method: this.method, path: this.path, status: this.status, error: this.rejection?.code, requestedModel: this.requestedModel, routing: this.routingRecord(NO_ATTEMPTS, null), deployment: this.countedBy ?? undefined, latencyMs, ...this.traceFields() },
          'request',
        );
      }));
      return undefined;
    }
    if (response === null) {
      // Answered from the cache: nothing was spent, the stored answer's cost was saved.
      this.holdings.settle({ tokens: 0, costNanos: 0 }, false);
      const served = { deployment: hit!.deployment, provider: hit!.provider, providerModel: hit!.providerModel, responseModel: hit!.responseModel };
      const record = this.usageRecord(now, latencyMs, served, { status: 200, complete: true, usageEstimated: false, usage: NO_USAGE, costNanos: 0, cache: { kind: this.cache!.kind, result: 'hit', similarity: this.cache!.similarity }, savedCostNanos: hit!.costNanos, ttfbMs: latencyMs, ttftMs: latencyMs });
      this.p.env.afterReply(() => this.account(() => {
        this.p.metrics.cacheSaved.inc({ group: this.cache!.group }, hit!.costNanos);
        this.p.metrics.answered(this.endpoint!, 200, undefined);
        this.spans?.finished(record, null, NO_ATTEMPTS, null, 200, null);
        this.logAndStore(record, this.routingRecord(NO_ATTEMPTS, null));
      }));
      return usageMetadata(record);
    }
    const billed = response.settle(complete, now);
    const d = billed.served;
    const attempts = this.p.attempts.take(this.plan?.id);
    const answered = { status: response.status, whole: billed.whole, served: d, responseModel: billed.responseModel, costNanos: billed.costNanos };
    this.cache?.finish(answered, this.stream ? 'text/event-stream' : 'application/json', now, this.p.env.random());
    const served = { deployment: d.name, provider: d.provider, providerModel: d.providerModel, responseModel: billed.responseModel };
    const { usage, estimated, costNanos } = billed;
    const record = this.usageRecord(now, latencyMs, served, { status: response.status, complete: billed.whole, usageEstimated: estimated, usage, costNanos, cache: this.cache === null ? null : { kind: 'exact', result: this.cache.result }, savedCostNanos: 0, ttfbMs: response.ttfbMs, ttftMs: response.ttftMs });
    this.p.env.afterReply(() => this.account(() => {
      this.p.metrics.recordServed(this.endpoint!, decision, d, record);
      const responseAtMs = response.ttfbMs === null ? null : this.startMs + response.ttfbMs;
      this.spans?.finished(record, d, attempts, responseAtMs, record.status, record.status >= 500 || !complete ? `${record.status}` : null);
      this.logAndStore(record, this.routingRecord(attempts, d.name));
    }));
    return usageMetadata(record);
  }

  /** The decision as the log line and the console show it; with the plan and attempts of a request that went upstream (`served`). */
  private routingRecord(attempts: readonly AttemptRecord[], served: string | null): Record<string, unknown> | undefined {
    if (this.decision === null) return undefined;
    const routing = decisionRecord(this.decision);
    if (served === null) return routing;
    routing.plan = this.plan === null ? undefined : formatPlan(this.plan);
    routing.attempts = attempts;
    routing.served = served;
    return routing;
  }

  /** Work after the reply: a fault in it is logged, never thrown into the event loop. */
  private account(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.p.log.error({ err, requestId: this.requestId }, 'accounting a request failed');
    }
  }

  /** The request's log line (its accounting trail), the console's recent list and the store's usage record. */
  private logAndStore(record: UsageRecord, routing: Record<string, unknown> | undefined): void {
    const head = { method: this.method, path: this.path, routing };
    infoLine(this.p.log, this.spans === null ? [head, record] : [head, record, this.traceFields()], 'request');
    this.p.recent.add(record, routing);
    this.p.store.recordUsage(record).catch((err: unknown) => {
      // The record is in the log line above; this says it is missing from the store.
      this.p.log.error({ err, requestId: this.requestId, record }, 'usage record not persisted');
    });
  }

  /** The request's trace and span ids for its log line, as OpenTelemetry's log model names them. */
  private traceFields(): { trace_id?: string; span_id?: string } {
    return this.spans === null ? {} : { trace_id: this.spans.traceId, span_id: this.spans.spanId };
  }

  private usageRecord(now: number, latencyMs: number, served: Pick<UsageRecord, 'deployment' | 'provider' | 'providerModel' | 'responseModel'>, outcome: RecordOutcome): UsageRecord {
    const { usage } = outcome;
    return {
      recordId: randomUUID(),
      requestId: this.requestId,
      timestampMs: now,
      keyId: this.keyId,
      team: this.key?.team ?? null,
      tags: this.countedTags,
      requestedModel: this.requestedModel ?? '',
      ...served,
      stream: this.stream,
      status: outcome.status,
      complete: outcome.complete,
      usageEstimated: outcome.usageEstimated,
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
      reasoningTokens: usage.reasoningTokens,
      totalTokens: usage.totalTokens,
      costNanos: outcome.costNanos,
      cache: outcome.cache,
      savedCostNanos: outcome.savedCostNanos,
      latencyMs,
      ttfbMs: outcome.ttfbMs,
      ttftMs: outcome.ttftMs,
    };
  }
}

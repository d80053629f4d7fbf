/**
 * The request pipeline: one `Exchange` per HTTP request, driven phase by phase by the Envoy adapter.
 *
 *   request headers  → endpoint, method, content type, declared size         (exchange.onRequestHeaders)
 *   request body     → parse once, validate, choose a deployment, rewrite     (exchange.onRequestBody)
 *   response headers → only when an operator turns them on (envoy.yaml skips  (exchange.onResponseHeaders)
 *                      them): status, time to first byte, read the body or not
 *   response body    → status and format from the first chunk when there were (exchange.onResponseBody)
 *                      no headers; usage from JSON or SSE; hide our usage chunk
 *   end              → one usage record and one log line, however it ended    (exchange.onEnd)
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Deployment, RouterConfig } from '../config/compile.js';
import { RouterError } from '../errors.js';
import { observeResponse, type ResponseObserver } from '../providers/openai/response.js';
import { costNanos, NO_USAGE } from '../providers/usage.js';
import { Router } from '../routing/choose.js';
import type { Decision, PolicyEnv } from '../routing/types.js';
import type { StateStore, UsageRecord } from '../state/store.js';
import { parseChatRequest } from './chat-request.js';
import { renderModelsList } from './models-list.js';
import { PASS, type HeaderPair, type Headers, type Outcome } from './types.js';

const JSON_HEADERS: readonly HeaderPair[] = [['content-type', 'application/json']];

/**
 * Client headers that must never reach a provider: the client's credentials and a compression we
 * could not read usage from. `authorization` is overwritten instead when the deployment has a key.
 */
const CLIENT_ONLY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'accept-encoding'];
const CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION = ['x-api-key', 'api-key', 'accept-encoding'];

export class Pipeline {
  readonly router: Router;
  readonly modelsList: Buffer;
  /** Removed from every request so a client can never pick the cluster itself. */
  readonly requestHeadersOutcome: Outcome;

  constructor(
    readonly config: RouterConfig,
    readonly store: StateStore,
    readonly env: PolicyEnv,
    readonly log: Logger,
  ) {
    this.router = new Router(config);
    this.modelsList = renderModelsList(config, Math.floor(env.now() / 1000));
    this.requestHeadersOutcome = { kind: 'continue', setHeaders: [], removeHeaders: [config.clusterHeader] };
  }

  exchange(): Exchange {
    return new Exchange(this);
  }
}

function errorReply(err: RouterError): Outcome {
  return { kind: 'reply', status: err.status, body: Buffer.from(JSON.stringify(err.toJSON())), headers: JSON_HEADERS };
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

function keyIdOf(headers: Headers): string {
  const auth = headers.authorization ?? headers['x-api-key'];
  if (auth === undefined || auth.length === 0) return 'anonymous';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : auth;
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

export class Exchange {
  private readonly startMs: number;
  private requestId = '';
  private method = '';
  private path = '';
  private keyId = 'anonymous';
  private decision: Decision | null = null;
  private deployment: Deployment | null = null;
  private requestedModel: string | null = null;
  private stream = false;
  /** We turned on `include_usage` for a client that did not ask, so its usage chunk is ours to drop. */
  private hideUsageEvent = false;
  private status = 0;
  private ttfbMs: number | null = null;
  private ttftMs: number | null = null;
  private observer: ResponseObserver | null = null;
  private rejection: RouterError | null = null;
  /** The router answered the client itself (an error or the models list). */
  private answered = false;
  private responseStarted = false;
  private finished = false;

  constructor(private readonly p: Pipeline) {
    this.startMs = p.env.now();
  }

  onRequestHeaders(headers: Headers, endOfStream: boolean): Outcome {
    this.requestId = headers['x-request-id'] ?? '';
    this.method = headers[':method'] ?? '';
    const rawPath = headers[':path'] ?? '';
    const q = rawPath.indexOf('?');
    this.path = q === -1 ? rawPath : rawPath.slice(0, q);
    this.keyId = keyIdOf(headers);
    try {
      if (this.path === '/v1/models' || this.path === '/models') {
        if (this.method !== 'GET') throw new RouterError('method_not_allowed', `Method ${this.method} is not allowed on ${this.path}.`);
        this.status = 200;
        this.answered = true;
        return { kind: 'reply', status: 200, body: this.p.modelsList, headers: JSON_HEADERS };
      }
      if (this.path !== '/v1/chat/completions' && this.path !== '/chat/completions') {
        throw new RouterError('not_found', `Unknown request URL: ${this.method} ${this.path}.`);
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
      return this.p.requestHeadersOutcome;
    } catch (err) {
      return this.reject(err);
    }
  }

  onRequestBody(body: Buffer): Outcome {
    try {
      if (body.length > this.p.config.maxRequestBodyBytes) {
        throw new RouterError('body_too_large', `The request body is ${body.length} bytes; the limit is ${this.p.config.maxRequestBodyBytes}.`);
      }
      const req = parseChatRequest(body);
      this.requestedModel = req.model;
      this.stream = req.stream;
      const decision = this.p.router.choose({ requestedModel: req.model, stream: req.stream }, this.p.env);
      this.decision = decision;
      if (decision.outcome === 'unknown_model') {
        throw new RouterError('model_not_found', `The model '${req.model}' does not exist or you do not have access to it.`, 'model');
      }
      if (decision.outcome === 'no_candidates') {
        throw new RouterError('no_deployment', `No deployment of '${req.model}' can take this request now.`, 'model');
      }
      const d = decision.primary;
      this.deployment = d;

      // Rewrite the body only when something changes; otherwise Envoy forwards the original bytes.
      const needsModel = d.providerModel !== req.model;
      const needsUsage = req.stream && !req.clientWantsUsage;
      this.hideUsageEvent = needsUsage;
      const setHeaders: HeaderPair[] = [[this.p.config.clusterHeader, d.name]];
      if (d.credential !== null) setHeaders.push(['authorization', `Bearer ${d.credential}`]);
      let newBody: Buffer | undefined;
      if (needsModel || needsUsage) {
        const rewritten: Record<string, unknown> = { ...req.body };
        if (needsModel) rewritten.model = d.providerModel;
        if (needsUsage) rewritten.stream_options = { ...(req.body.stream_options as object | null | undefined), include_usage: true };
        newBody = Buffer.from(JSON.stringify(rewritten));
        setHeaders.push(['content-length', String(newBody.length)]);
      }
      const removeHeaders = d.credential === null ? CLIENT_ONLY_HEADERS : CLIENT_ONLY_HEADERS_BUT_AUTHORIZATION;
      return { kind: 'continue', setHeaders, removeHeaders, body: newBody, clearRouteCache: true };
    } catch (err) {
      return this.reject(err);
    }
  }

  onResponseHeaders(headers: Headers, endOfStream: boolean): Outcome {
    this.startResponse(Number(headers[':status'] ?? 0), headers['content-type'] ?? '');
    if (this.deployment === null) return PASS;
    if (endOfStream) {
      this.finish(true);
      return PASS;
    }
    return this.observer === null ? PASS : { kind: 'continue', setHeaders: [], removeHeaders: [], readBody: true };
  }

  /**
   * A response body chunk. When Envoy skips the response-headers phase (a configuration with one
   * message less per request), the first chunk starts the response: its status comes from the
   * `response.code` attribute and its format from the first bytes.
   */
  onResponseBody(chunk: Buffer, endOfStream: boolean, status: number | null = null): Outcome {
    if (!this.responseStarted) {
      if (chunk.length === 0 && !endOfStream) return PASS;
      this.startResponse(status ?? 0, sniffContentType(chunk));
    }
    if (this.ttftMs === null && chunk.length > 0) this.ttftMs = this.p.env.now() - this.startMs;
    const replacement = this.observer?.push(chunk, endOfStream) ?? null;
    if (endOfStream) this.finish(true);
    return replacement === null ? PASS : { kind: 'continue', setHeaders: [], removeHeaders: [], body: replacement };
  }

  private startResponse(status: number, contentType: string): void {
    this.responseStarted = true;
    this.status = status;
    this.ttfbMs = this.p.env.now() - this.startMs;
    if (this.deployment !== null) this.observer = observeResponse(contentType, this.hideUsageEvent);
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
    if (!this.finished) this.finish(false);
  }

  private reject(err: unknown): Outcome {
    const routerError =
      err instanceof RouterError ? err : new RouterError('internal_error', `Internal error while routing request ${this.requestId}.`);
    if (!(err instanceof RouterError)) this.p.log.error({ err, requestId: this.requestId }, 'unexpected error in the request pipeline');
    this.rejection = routerError;
    this.answered = true;
    this.status = routerError.status;
    return errorReply(routerError);
  }

  private finish(complete: boolean): void {
    this.finished = true;
    const now = this.p.env.now();
    const latencyMs = now - this.startMs;
    const d = this.deployment;
    const decision = this.decision;
    const routing =
      decision?.outcome === 'routed'
        ? { group: decision.group.name, strategy: decision.strategy, candidates: decision.candidates, scores: decision.scores, fallbacks: decision.fallbacks.map((f) => f.name) }
        : undefined;
    if (d === null) {
      this.p.log.info(
        { requestId: this.requestId, method: this.method, path: this.path, status: this.status, error: this.rejection?.code, requestedModel: this.requestedModel, routing, latencyMs },
        'request',
      );
      return;
    }
    const report = this.observer?.report() ?? { usage: null, responseModel: null };
    const usage = report.usage ?? NO_USAGE;
    const record: UsageRecord = {
      requestId: this.requestId,
      timestampMs: now,
      keyId: this.keyId,
      requestedModel: this.requestedModel ?? '',
      deployment: d.name,
      provider: d.provider,
      providerModel: d.providerModel,
      responseModel: report.responseModel,
      stream: this.stream,
      status: this.status,
      complete: complete && report.usage !== null,
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
      reasoningTokens: usage.reasoningTokens,
      totalTokens: usage.totalTokens,
      costNanos: costNanos(usage, d.price),
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

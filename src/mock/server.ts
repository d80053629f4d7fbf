/**
 * Mock LLM provider: one instance speaks one wire format (OpenAI, Azure OpenAI, Anthropic
 * Messages, Bedrock Converse or Gemini; `openai/`, `azure/`, `anthropic/`, `bedrock/`, `gemini/`) and, strict, rejects what the real API rejects with
 * its status and error body. Deterministic: prompt tokens = ⌈characters / 4⌉ of all message text,
 * one completion token per content chunk, so tests can compare what the router billed with what the
 * mock reported. This file only dispatches and keeps what all formats share: stats, behaviour,
 * per-minute limits, stream faults.
 *
 *   the format's API paths     e.g. POST /v1/chat/completions, /openai/deployments/{d}/…, /v1/messages
 *   GET  /health               for Envoy's active health checks
 *   GET  /_mock/stats          requests received, usage reported, the last requests seen (with bodies)
 *   POST /_mock/reset          zero the stats
 *   PUT  /_mock/behaviour      merge JSON into this instance's behaviour
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { anthropicFormat } from './anthropic/format.js';
import { azureFormat } from './azure/format.js';
import { bedrockFormat } from './bedrock/format.js';
import { geminiFormat } from './gemini/format.js';
import { behaviourFor, behaviourSchema, type Behaviour, type MockInstanceConfig, instanceSchema, mockConfigSchema } from './behaviour.js';
import { openaiFormat } from './openai/format.js';
import { MinuteLimiter } from './rate-limit.js';
import { playStream } from './stream.js';
import type { Endpoint, Rejection, ReportedUsage, WireFormat, WireRequest } from './wire.js';

export interface SeenRequest {
  /** With the query string. */
  readonly path: string;
  readonly model: unknown;
  readonly stream: boolean;
  readonly streamOptions: unknown;
  readonly authorization: string | null;
  readonly headers: Record<string, string>;
  /** The parsed JSON body; null when it was not JSON. */
  readonly body: unknown;
  /** The body's bytes as text, to check what a gateway changed in them. */
  readonly text: string;
  /** When it arrived (ms since the epoch). */
  readonly atMs: number;
}

export interface MockStats {
  name: string;
  /** `openai`, `azure-openai`, `anthropic` or `bedrock`. */
  format: string;
  strict: boolean;
  /** Chat and text-completion requests (`/chat/completions`, `/completions`, `/v1/messages`), rejected ones included. */
  requests: number;
  /** Requests to the embeddings endpoint. */
  embeddingRequests: number;
  /** Chat requests being answered now (live; not zeroed by reset). */
  inFlight: number;
  /**
   * Usage the mock put in its responses (streams: only when the usage was sent). `promptTokens`
   * includes cached tokens; Anthropic answers split them out as cache reads and writes.
   */
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cacheReadTokens: number; cacheCreationTokens: number };
  statuses: Record<string, number>;
  last: SeenRequest[];
}

export interface MockInstance {
  readonly name: string;
  readonly port: number;
  stats(): MockStats;
  reset(): void;
  setBehaviour(patch: Partial<Behaviour>): void;
  /** Behaviour changes for the next chat requests, one each, in arrival order (fault scripts). */
  enqueue(patches: readonly Partial<Behaviour>[]): void;
  close(): Promise<void>;
}

const KEEP_LAST = 50;
/** Prompt-cache prefixes an Anthropic instance remembers; forgotten all at once beyond this (bounded memory). */
const CACHE_ENTRIES = 10_000;
/** Mixed scripts, so a stream exercises multi-byte UTF-8 characters split across chunks. */
const WORDS = ['Hello', ' wörld', ',', ' this', ' is', ' a', ' mock', ' réponse', ' 日本語', ' ✓', ' from', ' the', ' provider', '.'];

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...extra });
  res.end(bytes);
}

const sendRejection = (res: ServerResponse, r: Rejection, extra: Record<string, string> = {}): void => sendJson(res, r.status, r.body, { ...r.headers, ...extra });

function formatOf(config: ReturnType<typeof instanceSchema.parse>, clock: () => number): WireFormat {
  switch (config.format) {
    case 'openai':
      return openaiFormat;
    case 'azure-openai':
      return azureFormat(config.deployments);
    case 'anthropic':
      return anthropicFormat;
    case 'bedrock': {
      const { access_key_id: accessKeyId, secret_access_key: secretAccessKey, session_token: sessionToken, region } = config.aws;
      return bedrockFormat({ credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) }, region, clock });
    }
    case 'gemini':
      return geminiFormat;
  }
}

export interface MockOptions {
  /**
   * The clock the per-minute limits count in (ms since the epoch; default the wall clock). Tests pin
   * it, so no minute boundary can fall inside them and reset the limits halfway.
   */
  readonly limitsClock?: () => number;
  /** The clock SigV4 signatures are checked against (`bedrock`; default the wall clock). */
  readonly signatureClock?: () => number;
}

export async function startMockInstance(config: MockInstanceConfig, { limitsClock = Date.now, signatureClock = Date.now }: MockOptions = {}): Promise<MockInstance> {
  const parsed = instanceSchema.parse(config);
  const format = formatOf(parsed, signatureClock);
  const strict = parsed.strict ?? parsed.format !== 'openai';
  let behaviour: Behaviour = parsed.behaviour;
  const emptyUsage = () => ({ promptTokens: 0, completionTokens: 0, totalTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 });
  const stats: MockStats = { name: parsed.name, format: parsed.format, strict, requests: 0, embeddingRequests: 0, inFlight: 0, usage: emptyUsage(), statuses: {}, last: [] };
  let sequence = 0;
  const limiter = new MinuteLimiter();
  const cachedPrefixes = new Set<string>();
  const script: Partial<Behaviour>[] = [];

  const countStatus = (status: number): void => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
  };
  const countUsage = (u: ReportedUsage): void => {
    stats.usage.promptTokens += u.promptTokens;
    stats.usage.completionTokens += u.completionTokens;
    stats.usage.totalTokens += u.promptTokens + u.completionTokens;
    stats.usage.cacheReadTokens += u.cacheReadTokens ?? 0;
    stats.usage.cacheCreationTokens += u.cacheCreationTokens ?? 0;
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, wire: WireRequest, endpoint: Endpoint): Promise<void> => {
    if (endpoint === 'chat' || endpoint === 'completions') {
      stats.inFlight++;
      res.once('close', () => stats.inFlight--);
      stats.requests++;
    } else if (endpoint === 'embeddings') stats.embeddingRequests++;
    // Taken at arrival, so steps go to requests in arrival order (a rejected request uses its step up).
    const scripted = script.shift();
    const raw = await readBody(req);
    const text = raw.toString('utf8');
    let parsedBody: unknown;
    try {
      parsedBody = JSON.parse(text);
    } catch {
      parsedBody = undefined;
    }
    const body = typeof parsedBody === 'object' && parsedBody !== null && !Array.isArray(parsedBody) ? (parsedBody as Record<string, unknown>) : {};
    const model = format.modelOf?.(wire) ?? body.model;
    stats.last.push({
      path: req.url ?? '',
      model,
      stream: body.stream === true,
      streamOptions: body.stream_options,
      authorization: wire.headers.authorization ?? null,
      headers: wire.headers,
      body: parsedBody ?? null,
      text,
      atMs: Date.now(),
    });
    if (stats.last.length > KEEP_LAST) stats.last.shift();

    const rejection = strict ? (format.checkRequest(wire, parsed.api_key, raw) ?? format.checkBody(endpoint, parsedBody)) : null;
    if (rejection !== null) {
      countStatus(rejection.status);
      return sendRejection(res, rejection);
    }
    const forModel = typeof model === 'string' ? parsed.models[model] : undefined;
    const b = behaviourFor(forModel === undefined && scripted === undefined ? behaviour : { ...behaviour, ...forModel, ...scripted }, req.headers);
    if (b.status < 200 || b.status >= 300) {
      countStatus(b.status);
      await sleep(b.latency_ms);
      return sendRejection(res, format.error(b.status, `mock ${parsed.name} answered ${b.status}`, b.error_code), b.retry_after === undefined ? {} : { 'retry-after': b.retry_after });
    }
    // A prefix enters the prompt cache only once its request is served.
    let newPrefix: string | null = null;
    const answer = format.answer(endpoint, body, {
      instance: parsed.name,
      sequence: ++sequence,
      path: wire.path,
      createdSec: Math.floor(Date.now() / 1000),
      request: wire,
      behaviour: b,
      word: (i) => WORDS[i % WORDS.length]!,
      cacheSeen: (prefix) => {
        if (cachedPrefixes.has(prefix)) return true;
        newPrefix = prefix;
        return false;
      },
    });
    let limitHeaders: Record<string, string> = {};
    if (endpoint === 'chat' || endpoint === 'completions') {
      const limits = {
        requestsPerMinute: b.limit_requests_per_minute,
        tokensPerMinute: b.limit_tokens_per_minute,
        inputTokensPerMinute: b.limit_input_tokens_per_minute,
        outputTokensPerMinute: b.limit_output_tokens_per_minute,
      };
      const report = limiter.take(limits, answer.usage.promptTokens, answer.usage.completionTokens, limitsClock());
      limitHeaders = format.limitHeaders(report);
      if (report.refused) {
        countStatus(429);
        return sendRejection(res, format.limitError(`mock ${parsed.name}: rate limit reached`), limitHeaders);
      }
    }
    if (newPrefix !== null) {
      if (cachedPrefixes.size >= CACHE_ENTRIES) cachedPrefixes.clear();
      cachedPrefixes.add(newPrefix);
    }
    const status = answer.kind === 'json' ? (answer.status ?? 200) : 200;
    countStatus(status);
    if (answer.kind === 'json') {
      await sleep(b.latency_ms);
      if (answer.reportsUsage) countUsage(answer.usage);
      return sendJson(res, status, answer.body, limitHeaders);
    }
    res.writeHead(200, { 'content-type': answer.script.contentType ?? 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...limitHeaders });
    await playStream(res, b, answer.script, () => {
      if (answer.reportsUsage) countUsage(answer.usage);
    });
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname;
    const route = async (): Promise<void> => {
      if (path === '/health') return sendJson(res, behaviour.health_status, { status: behaviour.health_status === 200 ? 'ok' : 'unhealthy' });
      if (path === '/_mock/stats') return sendJson(res, 200, stats);
      if (path === '/_mock/reset' && req.method === 'POST') {
        reset();
        return sendJson(res, 200, { ok: true });
      }
      if (path === '/_mock/behaviour' && req.method === 'PUT') {
        setBehaviour(JSON.parse((await readBody(req)).toString('utf8')) as Partial<Behaviour>);
        return sendJson(res, 200, behaviour);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const wire: WireRequest = { method: req.method ?? 'GET', path, query: url.searchParams, headers };
      const endpoint = format.route(wire);
      if (typeof endpoint !== 'string') {
        countStatus(endpoint.status);
        return sendRejection(res, endpoint);
      }
      return handleApi(req, res, wire, endpoint);
    };
    route().catch((err: unknown) => {
      if (!res.headersSent) sendRejection(res, format.error(400, (err as Error).message, undefined));
      else res.destroy();
    });
  });
  const reset = (): void => {
    stats.requests = 0;
    stats.embeddingRequests = 0;
    stats.usage = emptyUsage();
    stats.statuses = {};
    stats.last = [];
  };
  const setBehaviour = (patch: Partial<Behaviour>): void => {
    behaviour = behaviourSchema.parse({ ...behaviour, ...patch });
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.address, resolve);
  });
  return {
    name: parsed.name,
    port: (server.address() as AddressInfo).port,
    stats: () => structuredClone(stats),
    reset,
    setBehaviour,
    enqueue: (patches) => void script.push(...patches),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts every instance listed in a mock-providers YAML file. */
export async function startMockProviders(file: string): Promise<MockInstance[]> {
  const config = mockConfigSchema.parse(parseYaml(await readFile(file, 'utf8')));
  return Promise.all(config.instances.map((i) => startMockInstance(i)));
}

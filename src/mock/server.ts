/**
 * Mock LLM provider speaking OpenAI's chat-completions wire format (JSON and SSE with usage).
 * Deterministic: prompt tokens = ⌈characters / 4⌉ of all message text, one completion token per
 * content chunk, so tests can compare what the router billed with what the mock reported.
 *
 *   POST /v1/chat/completions   the API (also /chat/completions)
 *   POST /v1/embeddings         deterministic vectors (feature hashing), for embeddings-based routing
 *   GET  /health                for Envoy's active health checks
 *   GET  /_mock/stats           requests received, usage reported, the last requests seen
 *   POST /_mock/reset           zero the stats
 *   PUT  /_mock/behaviour       merge JSON into this instance's behaviour
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { embeddingsResponse } from './embeddings.js';
import { MinuteLimiter } from './rate-limit.js';
import { behaviourFor, behaviourSchema, type Behaviour, type MockInstanceConfig, instanceSchema, mockConfigSchema } from './behaviour.js';

export interface SeenRequest {
  readonly path: string;
  readonly model: unknown;
  readonly stream: boolean;
  readonly streamOptions: unknown;
  readonly authorization: string | null;
  readonly headers: Record<string, string>;
  /** When it arrived (ms since the epoch). */
  readonly atMs: number;
}

export interface MockStats {
  name: string;
  requests: number;
  /** Requests to /v1/embeddings. */
  embeddingRequests: number;
  /** Chat requests being answered now (live; not zeroed by reset). */
  inFlight: number;
  /** Usage the mock put in its responses (streams: only when the usage chunk was sent). */
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
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
/** Mixed scripts, so a stream exercises multi-byte UTF-8 characters split across chunks. */
const WORDS = ['Hello', ' wörld', ',', ' this', ' is', ' a', ' mock', ' réponse', ' 日本語', ' ✓', ' from', ' the', ' provider', '.'];

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

function promptTokensOf(body: { messages?: unknown }): number {
  let chars = 0;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages as Array<{ content?: unknown }>) {
      if (typeof m?.content === 'string') chars += m.content.length;
      else if (Array.isArray(m?.content)) for (const part of m.content as Array<{ text?: unknown }>) if (typeof part?.text === 'string') chars += part.text.length;
    }
  }
  return Math.max(1, Math.ceil(chars / 4));
}

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

export interface MockOptions {
  /**
   * The clock the per-minute limits count in (ms since the epoch; default the wall clock). Tests pin
   * it, so no minute boundary can fall inside them and reset the limits halfway.
   */
  readonly limitsClock?: () => number;
}

export async function startMockInstance(config: MockInstanceConfig, { limitsClock = Date.now }: MockOptions = {}): Promise<MockInstance> {
  const parsed = instanceSchema.parse(config);
  let behaviour: Behaviour = parsed.behaviour;
  const stats: MockStats = { name: parsed.name, requests: 0, embeddingRequests: 0, inFlight: 0, usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 }, statuses: {}, last: [] };
  let sequence = 0;
  const limiter = new MinuteLimiter();

  const script: Partial<Behaviour>[] = [];

  /**
   * What chat and embeddings requests share: the request recorded, the behaviour that applies to it,
   * and a scripted error status answered. Null when the error was answered.
   */
  const receive = async (req: IncomingMessage, res: ServerResponse): Promise<{ body: Record<string, unknown>; b: Behaviour } | null> => {
    const scripted = script.shift();
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    stats.last.push({
      path: req.url ?? '',
      model: body.model,
      stream: body.stream === true,
      streamOptions: body.stream_options,
      authorization: headers.authorization ?? null,
      headers,
      atMs: Date.now(),
    });
    if (stats.last.length > KEEP_LAST) stats.last.shift();

    const forModel = typeof body.model === 'string' ? parsed.models[body.model] : undefined;
    const b = behaviourFor(forModel === undefined && scripted === undefined ? behaviour : { ...behaviour, ...forModel, ...scripted }, req.headers);
    if (b.status < 200 || b.status >= 300) {
      stats.statuses[b.status] = (stats.statuses[b.status] ?? 0) + 1;
      await sleep(b.latency_ms);
      const extra: Record<string, string> = b.retry_after === undefined ? {} : { 'retry-after': b.retry_after };
      const type = b.status < 500 ? 'invalid_request_error' : 'server_error';
      sendJson(res, b.status, { error: { message: `mock ${parsed.name} answered ${b.status}`, type, param: null, code: b.error_code ?? null } }, extra);
      return null;
    }
    return { body, b };
  };

  const handleEmbeddings = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.embeddingRequests++;
    const received = await receive(req, res);
    if (received === null) return;
    const answer = embeddingsResponse(received.body);
    if (answer === null) return sendJson(res, 400, { error: { message: "'input' must be a string or an array of strings", type: 'invalid_request_error', param: 'input', code: null } });
    await sleep(received.b.latency_ms);
    stats.statuses[200] = (stats.statuses[200] ?? 0) + 1;
    stats.usage.promptTokens += answer.usage.prompt_tokens;
    stats.usage.totalTokens += answer.usage.total_tokens;
    return sendJson(res, 200, answer);
  };

  const handleChat = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.inFlight++;
    res.once('close', () => stats.inFlight--);
    stats.requests++;
    const received = await receive(req, res);
    if (received === null) return;
    const { body, b } = received;
    const model = typeof body.model === 'string' ? body.model : 'mock-model';
    const id = `chatcmpl-mock-${parsed.name}-${++sequence}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = promptTokensOf(body);
    const usageFor = (completionTokens: number) => ({
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const limit = limiter.take({ requestsPerMinute: b.limit_requests_per_minute, tokensPerMinute: b.limit_tokens_per_minute }, promptTokens + b.chunks, limitsClock());
    if (!limit.allowed) {
      stats.statuses[429] = (stats.statuses[429] ?? 0) + 1;
      return sendJson(res, 429, { error: { message: `mock ${parsed.name}: rate limit reached`, type: 'tokens', param: null, code: 'rate_limit_exceeded' } }, limit.headers);
    }
    stats.statuses[b.status] = (stats.statuses[b.status] ?? 0) + 1;
    const countUsage = (completionTokens: number): void => {
      stats.usage.promptTokens += promptTokens;
      stats.usage.completionTokens += completionTokens;
      stats.usage.totalTokens += promptTokens + completionTokens;
    };

    if (body.stream !== true) {
      await sleep(b.latency_ms);
      const content = Array.from({ length: b.chunks }, (_, i) => WORDS[i % WORDS.length]).join('');
      countUsage(b.chunks);
      return sendJson(
        res,
        200,
        {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          usage: usageFor(b.chunks),
          system_fingerprint: null,
        },
        limit.headers,
      );
    }

    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...limit.headers });
    const event = (choices: unknown[], usage?: unknown): string => {
      const chunk: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices };
      if (includeUsage) chunk.usage = usage ?? null;
      return `data: ${JSON.stringify(chunk)}\n\n`;
    };
    // In the same write as the event after it, so both reach the router in one chunk: the client must get neither that event nor the rest.
    const malformedAfter = (chunks: number): string => (b.malformed_after_chunks === chunks ? 'data: <html><body>502 Bad Gateway</body></html>\n\n' : '');
    // Resolves once the bytes reached the socket, so a cut happens after the client got them.
    let flushed: Promise<void> = Promise.resolve();
    const send = (data: string): void => {
      flushed = new Promise((resolve) => res.write(data, () => resolve()));
    };
    await sleep(b.ttft_ms);
    send(event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    for (let i = 0; i < b.chunks; i++) {
      if (i > 0) await sleep(b.chunk_interval_ms);
      // Between two tokens, as a provider dies: the chunks before reached the client.
      if (b.cut_after_chunks !== undefined && i >= b.cut_after_chunks) {
        await flushed;
        if (b.cut_mode === 'close') res.end();
        else res.socket?.resetAndDestroy();
        return;
      }
      if (b.stall_after_chunks !== undefined && i >= b.stall_after_chunks) return; // leave it open, silent
      if (res.destroyed) return;
      send(malformedAfter(i) + event([{ index: 0, delta: { content: WORDS[i % WORDS.length] }, logprobs: null, finish_reason: null }]));
    }
    send(event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
    if (includeUsage) {
      send(event([], usageFor(b.chunks)));
      countUsage(b.chunks);
    }
    res.end(`${malformedAfter(b.chunks)}data: [DONE]\n\n`);
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = async (): Promise<void> => {
      // Azure OpenAI's deployment paths serve the same format.
      const azure = /^\/openai\/deployments\/[^/]+(\/chat\/completions|\/embeddings)$/.exec(path ?? '');
      if (path === '/v1/chat/completions' || path === '/chat/completions' || azure?.[1] === '/chat/completions') {
        if (req.method !== 'POST') return sendJson(res, 405, { error: { message: 'use POST', type: 'invalid_request_error', param: null, code: null } });
        return handleChat(req, res);
      }
      if (path === '/v1/embeddings' || path === '/embeddings' || azure?.[1] === '/embeddings') return handleEmbeddings(req, res);
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
      return sendJson(res, 404, { error: { message: `unknown path ${path}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
    };
    route().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 400, { error: { message: (err as Error).message, type: 'invalid_request_error', param: null, code: null } });
      else res.destroy();
    });
  });
  const reset = (): void => {
    stats.requests = 0;
    stats.embeddingRequests = 0;
    stats.usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
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

/**
 * Black-box fuzzing through real Envoy: 10,000 requests generated from a fixed seed — valid,
 * malformed and hostile bodies, headers, keys, paths and methods — against deployments whose mock
 * providers answer, stream, cut streams, send malformed events, refuse with 429, fail with 500 or
 * refuse content. Every answer must be one the gateway documents, in OpenAI's error format when it
 * is an error; a path outside the LLM routes reaches the app that shares the gateway, untouched;
 * afterwards nothing is left counted or reserved, and the router is alive and no bigger.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rssMb } from '../../bench/targets.js';
import { startStack, type Stack } from '../support/stack.js';

const REQUESTS = 10_000;
const CONCURRENCY = 32;
const SEED = 20261201;

const KEYS = { full: 'sk-fz-full', free: 'sk-fz-free', budget: 'sk-fz-budget' } as const;

/** Model groups: each deployment's mock answers in one way (see `behaviour`). */
const GROUPS = ['fz-ok', 'fz-stream', 'fz-cut', 'fz-malformed', 'fz-busy', 'fz-down', 'fz-filter'] as const;

/** Codes the gateway documents for a 5xx it answers itself (docs/requests.md, "Phases"). */
const DOCUMENTED_5XX_CODES = new Set(['overloaded', 'no_deployment', 'admission_unavailable', 'auth_unavailable', 'router_unavailable', 'no_healthy_upstream', 'upstream_unavailable']);
/** Statuses a request can end with: the router's own answers, Envoy's own, and a provider's that every hop returned. */
const DOCUMENTED_STATUSES = new Set([200, 400, 401, 403, 404, 405, 413, 415, 429, 431, 500, 503]);

interface Spec {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | null;
  /** The group a valid body names, to tell which upstream failures are the provider's own. */
  readonly model: string | null;
  readonly stream: boolean;
}

const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.constantFrom('Say hello', '```python\nprint(1)\n```', 'a'.repeat(3000), '\u0000\ud800', 'x'.repeat(20_000)),
);
const message = fc.record(
  {
    role: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('user', 'system', 'assistant') }, fc.anything()),
    content: fc.oneof({ weight: 10, arbitrary: text }, { weight: 2, arbitrary: fc.array(fc.record({ type: fc.constantFrom('text', 'image_url', 'bogus'), text }), { maxLength: 3 }) }, fc.anything()),
  },
  { requiredKeys: ['role'] },
);
const junk = fc.oneof(fc.anything(), fc.constantFrom(-1, 0, 1.5, '3', null, 1e300, 2 ** 53));
/** Mostly a valid value, sometimes a wrong one. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: junk });
const tags = fc.oneof({ weight: 8, arbitrary: fc.array(fc.constantFrom('fz', 'batch', 'eval'), { maxLength: 3 }) }, fc.array(fc.string({ maxLength: 80 }), { maxLength: 40 }));

const chatBody = fc.record(
  {
    model: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...GROUPS) }, fc.constantFrom('auto', 'no-such-model', ''), fc.anything()),
    messages: fc.oneof({ weight: 8, arbitrary: fc.array(message, { minLength: 1, maxLength: 4 }) }, fc.anything()),
    stream: mostly(fc.boolean()),
    stream_options: mostly(fc.record({ include_usage: fc.boolean() })),
    max_tokens: mostly(fc.integer({ min: 1, max: 4000 })),
    n: mostly(fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.integer({ min: 100, max: 100_000 }))),
    temperature: mostly(fc.double({ min: 0, max: 2, noNaN: true })),
    tags: mostly(tags),
    metadata: mostly(fc.record({ tags })),
    disable_fallbacks: mostly(fc.boolean()),
    user: fc.string({ maxLength: 40 }),
  },
  { requiredKeys: ['model', 'messages'] },
);

/** Bodies that are not what a chat request should be. */
const oddBody = fc.oneof(
  fc.json(),
  fc.string({ maxLength: 300 }),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"model":"fz-ok","messages":[{"role":"user","content":"x"}],"x":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"model":"fz-ok","messages":[{"role":"user","content":"x"}],"x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
  fc.constant(''),
);

/** Headers no client may use to steer Envoy or the router, and ones a provider must never see. */
const hostileHeader = fc.constantFrom<[string, string]>(
  ['x-envoy-attempt-count', '1'],
  ['x-envoy-max-retries', '50'],
  ['x-envoy-retry-on', '5xx,retriable-4xx'],
  ['x-envoy-upstream-rq-timeout-ms', '1'],
  ['x-llm-cluster', 'fz-down-0'],
  ['x-llm-hop-2', 'fz-down-0'],
  ['x-llm-plan', 'fz-down-0'],
  ['x-llm-stream', '1'],
  ['x-llm-tags', Array.from({ length: 500 }, (_, i) => `t${i}`).join(',')],
  ['x-llm-tier', 'premium'],
  ['x-llm-router-debug', '1'],
  ['openai-organization', 'org-attacker'],
  ['cookie', 'session=1'],
  ['proxy-authorization', 'Basic eA=='],
);

const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ authorization: `Bearer ${KEYS.full}` }) },
  { weight: 3, arbitrary: fc.constant({ authorization: `Bearer ${KEYS.free}` }) },
  { weight: 3, arbitrary: fc.constant({ authorization: `Bearer ${KEYS.budget}` }) },
  fc.constantFrom<Record<string, string>>({ 'x-api-key': KEYS.full }, { authorization: 'Bearer sk-not-a-key' }, { authorization: 'Basic Zm9vOmJhcg==' }, {}),
);

const spec: fc.Arbitrary<Spec> = fc
  .record({
    route: fc.oneof(
      { weight: 20, arbitrary: fc.constant({ method: 'POST', path: '/v1/chat/completions' }) },
      fc.constant({ method: 'POST', path: '/chat/completions?x=1' }),
      fc.constant({ method: 'GET', path: '/v1/models' }),
      fc.constant({ method: 'GET', path: '/v1/chat/completions' }),
      fc.constant({ method: 'POST', path: '/v1/embeddings' }),
      fc.constant({ method: 'POST', path: '/v1/../admin/keys' }),
      fc.constant({ method: 'DELETE', path: '/nope' }),
    ),
    auth,
    contentType: fc.oneof({ weight: 10, arbitrary: fc.constant('application/json') }, fc.constantFrom('text/plain', 'application/json; charset=utf-8', '')),
    hostile: fc.uniqueArray(hostileHeader, { maxLength: 4, selector: ([name]) => name }),
    manyHeaders: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, fc.integer({ min: 50, max: 120 })),
    body: fc.oneof({ weight: 6, arbitrary: chatBody.map((b) => ({ json: b as Record<string, unknown> })) }, oddBody.map((s) => ({ raw: s }))),
  })
  .map(({ route, auth: a, contentType, hostile, manyHeaders, body }) => {
    const headers: Record<string, string> = { ...a };
    if (contentType !== '') headers['content-type'] = contentType;
    for (const [name, value] of hostile) headers[name] = value;
    for (let i = 0; i < manyHeaders; i++) headers[`x-fuzz-${i}`] = 'v'.repeat(i % 40);
    const raw = 'json' in body ? safeStringify(body.json) : body.raw;
    const model = 'json' in body && typeof body.json.model === 'string' ? body.json.model : null;
    const stream = 'json' in body && body.json.stream === true;
    return { ...route, headers, body: route.method === 'GET' || route.method === 'DELETE' ? null : raw, model, stream };
  });

/** fast-check's `anything` can produce values JSON cannot encode (BigInt): those bodies go as text. */
function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return String(v);
  }
}

interface Outcome {
  readonly spec: Spec;
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

async function send(url: string, s: Spec): Promise<Outcome> {
  const res = await fetch(`${url}${s.path}`, { method: s.method, headers: s.headers, body: s.body, signal: AbortSignal.timeout(60_000) });
  let body = '';
  try {
    body = await res.text();
  } catch (err) {
    // A stream the gateway cut (documented: a reset when the provider's connection breaks).
    body = `<cut: ${(err as Error).message}>`;
  }
  return { spec: s, status: res.status, body, contentType: res.headers.get('content-type') ?? '' };
}

/** The app's answer to every request: the gateway must pass it on as it is. */
const APP_ANSWER = 'the app answered';
/** The paths envoy.yaml's `llm-requests` route takes (Envoy normalises the path first); any other is the app's. */
const LLM_PATH = /^(\/v1\/.*|\/chat\/completions|\/completions|\/embeddings)$/;
const isLlmPath = (path: string): boolean => LLM_PATH.test(new URL(path, 'http://gateway').pathname);

/** What is wrong with one answer, or null. */
function problemWith(o: Outcome): string | null {
  // The app's: a path outside the LLM routes, unless the request names a cluster (then the router
  // refuses it: envoy.yaml) or is over Envoy's header limits (refused before any route).
  const forApp = !isLlmPath(o.spec.path) && !Object.keys(o.spec.headers).some((h) => h.toLowerCase() === 'x-llm-cluster');
  if (o.body === APP_ANSWER) return forApp && o.status === 404 ? null : 'a request for the router reached the app';
  if (forApp && o.status !== 431) return `a request for the app got ${o.status} ${o.body.slice(0, 80)}, not the app's answer`;
  if (!DOCUMENTED_STATUSES.has(o.status)) return `undocumented status ${o.status}`;
  if (o.status === 200) {
    if (o.body.startsWith('<cut:')) return o.spec.model === 'fz-cut' ? null : `stream cut on ${o.spec.model}`;
    if (o.contentType.startsWith('text/event-stream')) return sseProblem(o.body);
    return jsonProblem(o.body, false);
  }
  const problem = jsonProblem(o.body, true);
  if (problem !== null) return problem;
  const code = (JSON.parse(o.body) as { error: { code: unknown } }).error.code;
  // A provider's own 500 comes back when every hop of its plan failed (documented); no other 500.
  if (o.status === 500) return o.spec.model === 'fz-down' ? null : `500 from the gateway (${String(code)})`;
  if (o.status === 503 && !DOCUMENTED_5XX_CODES.has(String(code))) return `503 with undocumented code ${String(code)}`;
  return null;
}

function jsonProblem(body: string, isError: boolean): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `body is not JSON: ${body.slice(0, 120)}`;
  }
  if (!isError) return null;
  const error = (parsed as { error?: { message?: unknown; type?: unknown } }).error;
  if (typeof error?.message !== 'string' || error.message === '') return `error without a message: ${body.slice(0, 200)}`;
  if (typeof error.type !== 'string') return `error without a type: ${body.slice(0, 200)}`;
  return null;
}

/**
 * Every event parses, except a provider's malformed one, which the router passes on and follows
 * with its `upstream_stream_malformed` error event as the stream's last (docs/requests.md, Resilience).
 */
function sseProblem(body: string): string | null {
  const events = body.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6));
  for (let i = 0; i < events.length; i++) {
    const data = events[i]!;
    if (data === '[DONE]') continue;
    try {
      JSON.parse(data);
    } catch {
      const rest = events.slice(i + 1);
      const endsWithError = rest.length === 1 && rest[0]!.includes('"upstream_stream_malformed"');
      if (!endsWithError) return `an SSE event the client cannot parse, not followed by the router's error event alone: ${data.slice(0, 120)}`;
      return null;
    }
  }
  return null;
}

let stack: Stack;
let app: Server;

beforeAll(async () => {
  app = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(404, { 'content-type': 'text/plain' }).end(APP_ANSWER));
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const d = (name: string, group: string, behaviour = {}, extra = {}) => ({ name, group, behaviour, extra });
  stack = await startStack({
    deployments: [
      d('ok-a', 'fz-ok'),
      // Its provider model is the group name: its bodies pass unchanged.
      { ...d('ok-b', 'fz-ok'), providerModel: 'fz-ok' },
      d('stream-a', 'fz-stream', { chunks: 20 }),
      d('cut-a', 'fz-cut', { chunks: 10, cut_after_chunks: 3, cut_mode: 'close' }),
      d('cut-b', 'fz-cut', { chunks: 10, cut_after_chunks: 3, cut_mode: 'reset' }),
      d('mal-a', 'fz-malformed', { chunks: 6, malformed_after_chunks: 2 }),
      d('busy-a', 'fz-busy', { status: 429, retry_after: '1' }),
      d('down-a', 'fz-down', { status: 500 }),
      d('filter-a', 'fz-filter', { status: 400, error_code: 'content_filter' }),
      d('embed-a', 'fz-embed', {}, { capabilities: ['embeddings'] }),
    ],
    groups: {
      'fz-busy': { fallbacks: ['fz-ok'] },
      'fz-filter': { content_policy_fallbacks: ['fz-ok'] },
    },
    virtualModels: [{ name: 'auto', default_group: 'fz-ok', rules: [{ name: 'code', group: 'fz-stream', when: { regex: '```' } }] }],
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'fz-full', key_env: 'FZ_KEY_FULL', tier: 'premium' },
        { name: 'fz-free', key_env: 'FZ_KEY_FREE', tier: 'free', models: ['fz-ok', 'auto'], rpm_limit: 100_000, tpm_limit: 50_000 },
        { name: 'fz-budget', key_env: 'FZ_KEY_BUDGET', budgets: [{ usd: 0.02, window: '30d' }] },
      ],
    },
    routerEnv: { FZ_KEY_FULL: KEYS.full, FZ_KEY_FREE: KEYS.free, FZ_KEY_BUDGET: KEYS.budget },
    streamIdleTimeout: '2s',
    appPort: (app.address() as AddressInfo).port,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => app?.close(resolve));
});

describe('black-box fuzzing through Envoy', () => {
  it(`${REQUESTS} generated requests get documented answers, and leave nothing behind`, async () => {
    const specs = fc.sample(spec, { seed: SEED, numRuns: REQUESTS });
    const pid = stack.router.process.pid!;
    // Warm the router up (JIT, pools, the tokenizer) before its memory is taken as the baseline.
    await runAll(specs.slice(0, 500));
    const baselineRssMb = await rssMb(pid);

    const outcomes = await runAll(specs);
    const problems = outcomes.map((o) => ({ o, problem: problemWith(o) })).filter((p) => p.problem !== null);
    const byStatus: Record<number, number> = {};
    for (const o of outcomes) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    console.log(`fuzz: ${outcomes.length} requests, by status ${JSON.stringify(byStatus)}, ${problems.length} problems`);
    expect(
      problems.slice(0, 10).map((p) => `${p.o.status}: ${p.problem} ← ${p.o.spec.method} ${p.o.spec.path} ${JSON.stringify(p.o.spec.headers).slice(0, 200)} ${(p.o.spec.body ?? '').slice(0, 200)}`),
    ).toEqual([]);
    // Both kinds of answer happened: the run exercised routing, not only refusals.
    expect(byStatus[200]).toBeGreaterThan(REQUESTS / 10);

    // Alive and answering.
    expect((await fetch(`${stack.routerAdmin}/healthz`)).status).toBe(200);
    // Nothing left in flight.
    await expect.poll(async () => inFlight(), { timeout: 15_000 }).toBe(0);
    // Nothing left reserved: the budgeted key's spend is exactly what its usage records cost.
    const records = (await stack.usageLog(100_000)).filter((r) => r.keyId === 'fz-budget');
    const billedUsd = records.reduce((n, r) => n + r.costNanos, 0) / 1e9;
    const budgets = (await (await stack.adminFetch('/budgets')).json()) as { data: Array<{ owner: string; spent_usd: number }> };
    const spent = budgets.data.find((b) => b.owner.includes('fz-budget'))!.spent_usd;
    expect(spent).toBeCloseTo(billedUsd, 9);
    // Memory back near where it started: what one request retains is freed.
    const afterRssMb = await rssMb(pid);
    console.log(`fuzz: router RSS ${baselineRssMb.toFixed(0)} MB after warm-up, ${afterRssMb.toFixed(0)} MB after the run`);
    expect(afterRssMb).toBeLessThan(baselineRssMb + 64);
  }, 600_000);
});

async function inFlight(): Promise<number> {
  const load = (await (await stack.adminFetch('/load')).json()) as { data: Record<string, { inFlight: number }> };
  return Object.values(load.data).reduce((n, l) => n + l.inFlight, 0);
}

async function runAll(specs: readonly Spec[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(specs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < specs.length; i = next++) out[i] = await send(stack.url, specs[i]!);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

/** The request pipeline without gRPC: what each phase decides for a request. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { NO_ATTRIBUTES, PASS, type Attributes, type Outcome } from '../../../src/pipeline/types.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { parseConfig } from '../../../src/config/load.js';
import { config, fixedEnv, ROUTER_YAML } from '../../support/fixtures.js';
import { metricsText } from '../../support/metrics.js';

const status = (code: number): Attributes => ({ ...NO_ATTRIBUTES, status: code });
const HEADERS = { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': 'req-1', authorization: 'Bearer sk-client' };

function pipeline(randoms = [0.1]) {
  const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  return { store, p: new Pipeline(config(), store, fixedEnv(randoms), pino({ level: 'silent' })) };
}

const body = (o: unknown) => Buffer.from(JSON.stringify(o));
/** The router's own answers (errors, the models list) come without waiting on the store. */
const sync = (o: Outcome | Promise<Outcome>): Outcome => {
  if (o instanceof Promise) throw new Error('expected a synchronous outcome');
  return o;
};
const asContinue = (out: Outcome | Promise<Outcome>) => {
  const o = sync(out);
  if (o.kind !== 'continue') throw new Error(`expected continue, got ${JSON.stringify(o)}`);
  return o;
};

describe('request phases', () => {
  it('strips a client-supplied routing header, and every header no provider receives, at request headers', () => {
    const { p } = pipeline();
    // envoy.yaml's first filter removes a client's internal headers; were one to get through, no allowlist names it.
    const sent = { ...HEADERS, 'x-llm-cluster': 'big', 'openai-organization': 'org-x', cookie: 'a=1', 'user-agent': 'sdk', 'x-stainless-lang': 'js', 'x-envoy-attempt-count': '1' };
    expect(asContinue(p.exchange().onRequestHeaders(sent, false)).removeHeaders).toEqual([
      // The client's key, and what no provider's allowlist names; Envoy's own (x-envoy-*, the request id) are Envoy's.
      'authorization',
      'x-llm-cluster',
      'openai-organization',
      'cookie',
    ]);
  });

  it('more headers a provider would receive than Envoy takes with the router\'s: 431', () => {
    const { p } = pipeline();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x-stainless-${i}`, 'v']));
    const out = sync(p.exchange().onRequestHeaders({ ...HEADERS, ...many }, false));
    expect(out).toMatchObject({ kind: 'reply', status: 431 });
    expect(JSON.parse((out as { body: Buffer }).body.toString()).error).toMatchObject({ code: 'request_headers_too_large', type: 'invalid_request_error' });
    // 64 of them (and any number of headers no provider receives) pass.
    const fewer = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`x-stainless-${i}`, 'v']));
    const junk = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-junk-${i}`, 'v']));
    expect(sync(p.exchange().onRequestHeaders({ ...HEADERS, ...fewer, ...junk }, false)).kind).toBe('continue');
  });

  it('on the in-memory store, a routed request is decided in the turn its body arrives: its reply is no promise', () => {
    const { p } = pipeline([0.1]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    expect(asContinue(x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }))).setHeaders[0]).toEqual(['x-llm-cluster', 'mini-a']);
  });

  it('routes, sets the credential, rewrites the model, and clears the route cache', async () => {
    const { p } = pipeline([0.1]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    const out = asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })));
    expect(out.clearRouteCache).toBe(true);
    expect(out.setHeaders).toEqual([
      ['x-llm-cluster', 'mini-a'],
      // The fallback plan (after the request's id in this router's attempt log): the group's other
      // deployment, also for each retry Envoy may make.
      ['x-llm-plan', expect.stringMatching(/^@\S+ mini-a mini-b$/)],
      // OpenAI's path, whatever path the client used (`/chat/completions` too), and its key.
      [':path', '/v1/chat/completions'],
      ['authorization', 'Bearer sk-mini-a'],
      ['x-llm-hop-2', 'mini-b'],
      ['x-llm-hop-3', 'mini-b'],
      ['x-llm-hop-4', 'mini-b'],
      ['content-length', String(out.body!.length)],
    ]);
    expect(out.removeHeaders).toEqual(['x-api-key', 'api-key', 'x-goog-api-key', 'accept-encoding']);
    expect(JSON.parse(out.body!.toString())).toEqual({ model: 'gpt-4o-mini-2024-07-18', messages: [{ role: 'user', content: 'hi' }] });
  });

  it("a header one deployment of the plan forwards and another does not: removed before the first attempt, which a hop's shares", async () => {
    const yaml = ROUTER_YAML.replace('    api_key_env: MINI_A_KEY\n', "    api_key_env: MINI_A_KEY\n    forward_headers: ['openai-beta', 'x-team-*']\n");
    const p = new Pipeline(parseConfig(yaml, 'router.yaml', { MINI_A_KEY: 'sk-mini-a' }), new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 }), fixedEnv([0.1]), pino({ level: 'silent' }));
    const x = p.exchange();
    const sent = { ...HEADERS, 'openai-beta': 'assistants=v2', 'x-team-id': 't1', 'user-agent': 'sdk' };
    // At the request headers nothing some deployment forwards is removed…
    expect(asContinue(x.onRequestHeaders(sent, false)).removeHeaders).not.toContain('openai-beta');
    // …at the body, routed to mini-a with mini-b planned, what mini-b does not take goes too.
    const out = asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })));
    expect(out.setHeaders).toContainEqual(['x-llm-plan', expect.stringMatching(/^@\S+ mini-a mini-b$/)]);
    expect(out.removeHeaders).toEqual(['x-api-key', 'api-key', 'x-goog-api-key', 'accept-encoding', 'openai-beta', 'x-team-id']);
  });

  it('forward_headers may not name the credential headers', () => {
    for (const h of ['authorization', 'Api-Key', 'x-api-*', 'auth*']) {
      expect(() => parseConfig(ROUTER_YAML.replace('    api_key_env: MINI_A_KEY\n', `    api_key_env: MINI_A_KEY\n    forward_headers: ['${h}']\n`), 'router.yaml', {}), h).toThrow(/credential headers are the gateway's/);
    }
  });

  it('times each body phase, routed or refused, in a Prometheus histogram', async () => {
    const { p } = pipeline([0.1]);
    for (const model of ['gpt-4o-mini', 'no-such-model']) {
      const x = p.exchange();
      x.onRequestHeaders(HEADERS, false);
      await x.onRequestBody(body({ model, messages: [{ role: 'user', content: 'hi' }] }));
    }
    const text = await metricsText(p.metrics);
    expect(text).toContain('# TYPE llm_router_decision_seconds histogram');
    expect(text).toMatch(/^llm_router_decision_seconds_bucket\{le="1"\} 2$/m);
    expect(text).toMatch(/^llm_router_decision_seconds_bucket\{le="\+Inf"\} 2$/m);
    expect(text).toMatch(/^llm_router_decision_seconds_count 2$/m);
  });

  it('disable_fallbacks: a plan of the primary alone, and the field never reaches the provider', async () => {
    const { p } = pipeline([0.9]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    const out = asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', disable_fallbacks: true, messages: [{ role: 'user', content: 'hi' }] })));
    expect(out.setHeaders).toContainEqual(['x-llm-plan', expect.stringMatching(/^@\S+ mini-b$/)]);
    // Every planned hop is the deployment itself: Envoy's retries stay in it.
    expect(out.setHeaders.filter(([h]) => h.startsWith('x-llm-hop-'))).toEqual([
      ['x-llm-hop-2', 'mini-b'],
      ['x-llm-hop-3', 'mini-b'],
      ['x-llm-hop-4', 'mini-b'],
    ]);
    expect(JSON.parse(out.body!.toString())).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(sync(p.exchange().onRequestBody(body({ model: 'gpt-4o-mini', disable_fallbacks: 'yes', messages: [{ role: 'user', content: 'hi' }] }))).kind).toBe('reply');
  });

  it("the router's own fields (tags, metadata.tags, metadata.route_preference, disable_fallbacks) never reach the provider", async () => {
    const { p } = pipeline([0.9]); // mini-b: the body needs no other change
    const send = async (fields: Record<string, unknown>) => {
      const x = p.exchange();
      x.onRequestHeaders(HEADERS, false);
      return asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...fields })));
    };
    const out = await send({ tags: ['a'], metadata: { tags: ['b'], route_preference: 'cost-first', app: 'web' }, disable_fallbacks: false });
    expect(JSON.parse(out.body!.toString())).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], metadata: { app: 'web' } });
    // metadata holding only the router's members goes altogether; the provider's own metadata is kept as sent.
    expect(JSON.parse((await send({ metadata: { tags: ['b'] } })).body!.toString())).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect((await send({ metadata: { app: 'web' } })).body).toBeUndefined();
  });

  it('forwards the original bytes when nothing needs to change, and drops the client credential', async () => {
    const { p } = pipeline([0.9]); // mini-b: provider model equals the group name, no credential
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    const out = asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })));
    expect(out.body).toBeUndefined();
    expect(out.setHeaders).toEqual([
      ['x-llm-cluster', 'mini-b'],
      ['x-llm-plan', expect.stringMatching(/^@\S+ mini-b mini-a$/)],
      // Azure's deployment path (no credential configured for it here).
      [':path', '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21'],
      ['x-llm-hop-2', 'mini-a'],
      ['x-llm-hop-3', 'mini-a'],
      ['x-llm-hop-4', 'mini-a'],
    ]);
    expect(out.removeHeaders).toContain('authorization');
  });

  it.each([
    [{ stream: true }, { include_usage: true }],
    [{ stream: true, stream_options: { include_usage: false } }, { include_usage: true }],
    [{ stream: true, stream_options: { include_usage: true } }, undefined],
    [{ stream: false }, undefined],
  ])('%j → asks the provider for usage: %j', async (extra, expected) => {
    const { p } = pipeline([0.9]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    const out = asContinue(await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra })));
    if (expected === undefined) expect(out.body).toBeUndefined();
    else expect(JSON.parse(out.body!.toString()).stream_options).toEqual(expected);
  });
});

describe('response phases and the usage record', () => {
  it('reads SSE, hides the usage event it asked for, and records usage and cost', async () => {
    const { p, store } = pipeline([0.1]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    await x.onRequestBody(body({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(asContinue(x.onResponseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }, false)).readBody).toBe('streamed');
    expect(asContinue(x.onResponseBody(Buffer.from('data: {"choices":[{"delta":{"content":"x"}}],"usage":null}\n\n'), false)).body!.toString()).toBe(
      'data: {"choices":[{"delta":{"content":"x"}}]}\n\n',
    );
    const usage = { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, prompt_tokens_details: { cached_tokens: 400 } };
    const hidden = asContinue(x.onResponseBody(Buffer.from(`data: ${JSON.stringify({ model: 'm', choices: [], usage })}\n\ndata: [DONE]\n\n`), true));
    expect(hidden.body!.toString()).toBe('data: [DONE]\n\n');
    x.onEnd();
    const [record] = await store.usageLog(10);
    expect(record).toMatchObject({
      requestId: 'req-1',
      deployment: 'mini-a',
      requestedModel: 'gpt-4o-mini',
      providerModel: 'gpt-4o-mini-2024-07-18',
      responseModel: 'm',
      stream: true,
      status: 200,
      complete: true,
      promptTokens: 1000,
      cachedPromptTokens: 400,
      completionTokens: 100,
      // 600 × 150 + 400 × 75 + 100 × 600 nano-USD
      costNanos: 180_000,
    });
    // Keys are off: every caller is anonymous (auth.anonymous_ids_per_day is 0).
    expect(record!.keyId).toBe('anonymous');
  });

  it.each([
    ['SSE', 'data: {"choices":[{"delta":{"content":"x"}}]}\n\n', `data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n`, true],
    ['JSON', '{"model":"m","choices":[],', '"usage":{"prompt_tokens":3,"completion_tokens":2}}', false],
  ])('without a response-headers phase, reads %s usage from the body and the status from the attribute', async (_kind, first, last, stream) => {
    const { p, store } = pipeline([0.9]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    await x.onRequestBody(body({ model: 'gpt-4o-mini', stream, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }));
    expect(x.onResponseBody(Buffer.alloc(0), false)).toBe(PASS);
    expect(x.onResponseBody(Buffer.from(first), false, status(200))).toBe(PASS);
    expect(x.done).toBe(false);
    x.onResponseBody(Buffer.from(last), true);
    expect(x.done).toBe(true);
    const [record] = await store.usageLog(10);
    expect(record).toMatchObject({ status: 200, stream, complete: true, promptTokens: 3, completionTokens: 2, responseModel: 'm' });
  });

  it('without a response-headers phase, lets a body it cannot read pass and is done at once', async () => {
    const { p } = pipeline([0.9]);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    expect(x.onResponseBody(Buffer.from('<html>bad gateway</html>'), false, status(502))).toBe(PASS);
    expect(x.done).toBe(true);
  });

  it('records an abandoned stream once, as incomplete, billed for what was delivered', async () => {
    const { p, store } = pipeline();
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    await x.onRequestBody(body({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    x.onResponseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }, false);
    x.onResponseBody(Buffer.from('data: {"choices":[{"delta":{"content":"x"}}]}\n\n'), false);
    x.onEnd();
    x.onEnd();
    const log = await store.usageLog(10);
    expect(log).toHaveLength(1);
    // One content event delivered: one completion token, and the prompt as counted or estimated.
    expect(log[0]).toMatchObject({ complete: false, usageEstimated: true, completionTokens: 1 });
    expect(log[0]!.promptTokens).toBeGreaterThan(0);
  });

  it('answers the last chunk with its usage before the request is accounted, and a fault in the accounting is logged, not thrown', async () => {
    const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    const later: Array<() => void> = [];
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const p = new Pipeline(config(), store, { ...fixedEnv([0.9]), afterReply: (task) => void later.push(task) }, log);
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    await x.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    const last = asContinue(x.onResponseBody(Buffer.from('{"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}'), true, status(200)));
    // Envoy's access log gets the usage with the reply; the log line and the store's record come after it.
    expect(last.metadata).toMatchObject({ input_tokens: 3, output_tokens: 2, usage: 'reported' });
    expect(await store.usageLog(10)).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request')).toEqual([]);
    expect(later).toHaveLength(1);
    later.shift()!();
    expect(await store.usageLog(10)).toMatchObject([{ requestId: 'req-1', promptTokens: 3, completionTokens: 2 }]);
    expect(lines.filter((l) => l.msg === 'request')).toMatchObject([{ requestId: 'req-1', status: 200, promptTokens: 3 }]);

    // A request whose accounting throws (here: the store refuses synchronously) costs a logged error, not the process.
    store.recordUsage = () => {
      throw new Error('store broken');
    };
    const y = p.exchange();
    y.onRequestHeaders({ ...HEADERS, 'x-request-id': 'req-2' }, false);
    await y.onRequestBody(body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    y.onResponseBody(Buffer.from('{"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}'), true, status(200));
    expect(() => later.shift()!()).not.toThrow();
    expect(lines.at(-1)).toMatchObject({ level: 50, requestId: 'req-2', msg: 'accounting a request failed', err: { message: 'store broken' } });
  });

  it('records nothing for a rejected request', async () => {
    const { p, store } = pipeline();
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    expect(sync(x.onRequestBody(body({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }))).kind).toBe('reply');
    x.onEnd();
    expect(await store.usageLog(10)).toEqual([]);
  });
});

describe('overload at the request-headers phase', () => {
  const CHAT = body({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const bounds = { maxEventLoopLagMs: 200, maxInFlight: 2, protectedTiers: new Set(['premium']), protectedMaxEventLoopLagMs: 1000, protectedMaxInFlight: 3, retryAfterSec: 1 };
  function loaded(lagMs: { value: number }, defaultTier: string | null = null, previous?: Pipeline) {
    const base = config();
    const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    const env = { ...fixedEnv([0.1]), eventLoopLagMs: () => lagMs.value };
    return new Pipeline({ ...base, overload: bounds, routing: { ...base.routing, defaultTier } }, store, env, pino({ level: 'silent' }), new Map(), previous);
  }
  const refusal = (o: Outcome | Promise<Outcome>) => {
    const r = sync(o);
    if (r.kind !== 'reply') throw new Error(`expected a reply, got ${r.kind}`);
    return { status: r.status, retryAfter: r.headers.find(([h]) => h === 'retry-after')?.[1], error: JSON.parse(r.body.toString()).error };
  };

  it('refuses a new request with 503 overloaded and Retry-After while the event loop lags, and counts it', async () => {
    const lag = { value: 250 };
    const p = loaded(lag);
    expect(refusal(p.exchange().onRequestHeaders(HEADERS, false))).toEqual({
      status: 503,
      retryAfter: '1',
      error: { message: 'The gateway is overloaded (its event loop is 250 ms behind, limit 200 ms); retry after 1 s.', type: 'service_unavailable_error', param: null, code: 'overloaded' },
    });
    expect(await metricsText(p.metrics)).toContain('llm_router_overloaded_total{tier="",reason="event_loop_lag"} 1');
    lag.value = 20;
    expect(sync(p.exchange().onRequestHeaders(HEADERS, false)).kind).toBe('continue');
  });

  it('a protected default tier is served up to its higher bound', async () => {
    const lag = { value: 250 };
    const p = loaded(lag, 'premium');
    expect(sync(p.exchange().onRequestHeaders(HEADERS, false)).kind).toBe('continue');
    lag.value = 1000;
    expect(refusal(p.exchange().onRequestHeaders(HEADERS, false)).error.code).toBe('overloaded');
    expect(await metricsText(p.metrics)).toContain('llm_router_overloaded_total{tier="premium",reason="event_loop_lag"} 1');
  });

  it('counts a request from its stream\'s opening to its routing decision, or to its end without one; a reload keeps the count', async () => {
    const p = loaded({ value: 0 });
    const [routed, abandoned] = [p.exchange(), p.exchange()];
    // Counted before their headers are read: a backlog in the router's buffers counts too.
    expect(p.pressure().inFlight).toBe(2);
    routed.onRequestHeaders(HEADERS, false);
    abandoned.onRequestHeaders(HEADERS, false);
    expect(refusal(p.exchange().onRequestHeaders(HEADERS, false)).error.message).toContain('2 requests await a routing decision, limit 2');
    // The refused request is counted no more; the routed one no longer once decided.
    expect(p.pressure().inFlight).toBe(2);
    asContinue(await routed.onRequestBody(CHAT));
    expect(p.pressure().inFlight).toBe(1);
    const reloaded = loaded({ value: 0 }, null, p);
    expect(reloaded.pressure().inFlight).toBe(1);
    abandoned.onEnd(); // the client went away before its body
    routed.onEnd();
    expect([p.pressure().inFlight, reloaded.pressure().inFlight]).toEqual([0, 0]);
  });

  it('the models list, answered at the headers phase, is no longer counted', () => {
    const p = loaded({ value: 0 });
    expect(sync(p.exchange().onRequestHeaders({ ...HEADERS, ':method': 'GET', ':path': '/v1/models' }, true)).kind).toBe('reply');
    expect(p.pressure().inFlight).toBe(0);
  });

  it('a request refused in its body phase is no longer counted either', () => {
    const p = loaded({ value: 0 });
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    expect(sync(x.onRequestBody(Buffer.from('{not json'))).kind).toBe('reply');
    expect(p.pressure().inFlight).toBe(0);
    x.onEnd();
    expect(p.pressure().inFlight).toBe(0);
  });
});

/**
 * What a client's headers can do, through real Envoy: nothing that steers Envoy (the attempt count
 * the route's cluster matcher reads, the retry and timeout headers the router filter honours, the
 * gateway's internal routing headers), nothing that reaches a provider beyond its allowlist, and
 * too many headers answered in OpenAI's error format, by the router or by Envoy. (Envoy's reply with
 * the router down: lifecycle.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

/** The primary and the hop its group falls back to, priced apart so a bill shows who served. */
const PRIMARY = { name: 'primary', key: 'sk-primary-secret', price: { input_per_million: 10, output_per_million: 30 } };
const CHEAP = { name: 'cheap', key: 'sk-cheap-secret', price: { input_per_million: 0.1, output_per_million: 0.4 } };

const ask = (headers: Record<string, string> = {}) => postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content: 'hello there' }] }, headers);

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: PRIMARY.name, group: 'chat', apiKeyEnv: 'KEY_PRIMARY', extra: { price: PRIMARY.price } },
      { name: CHEAP.name, group: 'cheap', apiKeyEnv: 'KEY_CHEAP', extra: { price: CHEAP.price } },
    ],
    groups: { chat: { fallbacks: ['cheap'] } },
    routerEnv: { KEY_PRIMARY: PRIMARY.key, KEY_CHEAP: CHEAP.key },
    // The strongest case: Envoy honours x-envoy-* request headers from clients it deems internal.
    internalClients: true,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** USD per million tokens → nano-USD per token, as the usage record bills. */
const nanosPerToken = (perMillion: number) => perMillion * 1000;

describe('client headers that would steer Envoy', () => {
  it('an attempt count and the internal routing headers from a client do not move the first attempt', async () => {
    stack.resetMocks();
    const res = await ask({
      'x-envoy-attempt-count': '1',
      'x-llm-cluster': CHEAP.name,
      'x-llm-hop-2': CHEAP.name,
      'x-llm-plan': CHEAP.name,
      'x-llm-stream': '1',
    });
    expect(res.status).toBe(200);
    await res.text();
    // The primary served, with its own credential, and nothing reached the hop.
    expect(stack.mock(PRIMARY.name).stats().last.map((r) => r.authorization)).toEqual([`Bearer ${PRIMARY.key}`]);
    expect(stack.mock(CHEAP.name).stats().requests).toBe(0);
    const record = await stack.lastRecord();
    expect(record.deployment).toBe(PRIMARY.name);
    const usage = stack.mock(PRIMARY.name).stats().usage;
    expect(record.costNanos).toBe(usage.promptTokens * nanosPerToken(PRIMARY.price.input_per_million) + usage.completionTokens * nanosPerToken(PRIMARY.price.output_per_million));
  });

  // Envoy honours these only from clients it deems internal (here: loopback, as a mesh's pods may
  // be); the gateway's first filter removes them whatever Envoy deems.
  it("a client's x-envoy-upstream-rq-timeout-ms does not cut the provider's answer short", async () => {
    stack.resetMocks();
    // 1 ms, honoured, would time the attempt out (504) before the mock's 300 ms answer.
    const res = await ask({ 'x-envoy-upstream-rq-timeout-ms': '1', 'x-envoy-upstream-rq-per-try-timeout-ms': '1', 'x-mock-latency-ms': '300' });
    expect(res.status).toBe(200);
    expect(stack.mock(PRIMARY.name).stats().statuses['200']).toBe(1);
  });

  it("a client's x-envoy-max-retries and x-envoy-retry-on do not take the fallback away", async () => {
    stack.resetMocks();
    stack.mock(PRIMARY.name).enqueue([{ status: 503 }]);
    const res = await ask({ 'x-envoy-max-retries': '0', 'x-envoy-retry-on': 'reset' });
    expect(res.status).toBe(200);
    await res.text();
    expect(stack.mock(CHEAP.name).stats().last.map((r) => r.authorization)).toEqual([`Bearer ${CHEAP.key}`]);
    expect((await stack.lastRecord()).deployment).toBe(CHEAP.name);
  });
});

describe('client headers a provider receives', () => {
  const SENT = {
    'openai-organization': 'org-attacker',
    'openai-project': 'proj-attacker',
    cookie: 'session=1',
    'proxy-authorization': 'Basic eDp5',
    'x-forwarded-for': '203.0.113.9',
    'accept-encoding': 'gzip',
    'x-llm-tags': 'team-a',
    'user-agent': 'OpenAI/JS 4.0.0',
    'x-stainless-lang': 'js',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  };
  const FORWARDED = ['user-agent', 'x-stainless-lang', 'traceparent'];

  const check = (headers: Record<string, string>, key: string) => {
    for (const name of Object.keys(SENT)) {
      // The trace goes on through Envoy's tracer: the provider gets the client's trace id with
      // Envoy's span as its parent (and Envoy's sampling decision).
      if (name === 'traceparent') expect(headers[name]?.split('-')[1], name).toBe(SENT.traceparent.split('-')[1]);
      else if (FORWARDED.includes(name)) expect(headers[name], name).toBe(SENT[name as keyof typeof SENT]);
      else expect(headers[name], name).toBeUndefined();
    }
    expect(headers.authorization).toBe(`Bearer ${key}`);
    // Envoy's request id survives: the upstream filters read it.
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  };

  it('only the allowlisted ones, on the first attempt and on a fallback hop', async () => {
    stack.resetMocks();
    expect((await ask(SENT)).status).toBe(200);
    check(stack.mock(PRIMARY.name).stats().last[0]!.headers, PRIMARY.key);

    stack.resetMocks();
    stack.mock(PRIMARY.name).enqueue([{ status: 503 }]);
    expect((await ask(SENT)).status).toBe(200);
    check(stack.mock(PRIMARY.name).stats().last[0]!.headers, PRIMARY.key);
    check(stack.mock(CHEAP.name).stats().last[0]!.headers, CHEAP.key);
  });
});

describe('too many headers', () => {
  const many = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));

  it('headers no provider receives are removed, however many (within Envoy\'s limit)', async () => {
    stack.resetMocks();
    const res = await ask(many('x-junk-', 90));
    expect(res.status).toBe(200);
    expect(Object.keys(stack.mock(PRIMARY.name).stats().last[0]!.headers).filter((h) => h.startsWith('x-junk-'))).toEqual([]);
  });

  it('more forwardable headers than Envoy would take with the router\'s: 431 in OpenAI format', async () => {
    stack.resetMocks();
    const res = await ask(many('x-stainless-h', 80));
    expect(res.status).toBe(431);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error.code).toBe('request_headers_too_large');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^The request has \d+ headers/);
    expect(stack.mockRequests()).toBe(0);
  });

  it("over Envoy's own limit: Envoy's 431, in OpenAI format", async () => {
    const res = await ask(many('x-junk-', 110));
    expect(res.status).toBe(431);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'request_headers_too_large', type: 'invalid_request_error' });
    expect(body.error.message).toMatch(/too many or too large/);
  });
});

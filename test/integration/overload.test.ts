/**
 * Overload through real Envoy: past the router's bound on requests awaiting a routing decision, new
 * requests are refused at once (503 overloaded, Retry-After, OpenAI format) at the request-headers
 * phase — not failed closed by Envoy's 2 s message timeout after waiting — while a protected tier
 * is still served, the router keeps answering, and nothing stays counted or reserved.
 *
 * The bound is reached deterministically: requests whose body the client has not finished sending
 * are past their headers and wait for their decision (Envoy buffers the body for the router) for
 * as long as the test holds them. The same holding fills Envoy's own backstop, the router cluster's
 * circuit breaker, whose excess Envoy refuses without opening a stream to the router.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
const KEYS = { free: 'sk-overload-free-1', premium: 'sk-overload-premium-2' };
const MAX_IN_FLIGHT = 3;

beforeAll(async () => {
  stack = await startStack({
    config: {
      auth: { mode: 'keys' },
      keys: [
        // A budget, so each admitted request holds a reservation until it ends.
        { name: 'free', key_sha256: hashKey(KEYS.free), tier: 'free', budgets: [{ usd: 100, window: '1h' }] },
        { name: 'premium', key_sha256: hashKey(KEYS.premium), tier: 'premium' },
      ],
      limits: {
        // Only the in-flight bound is under test: the lag bounds sit far above anything a loaded
        // test machine shows, so a slow neighbour cannot shed a request this test expects served.
        overload: {
          max_in_flight: MAX_IN_FLIGHT,
          protected_tiers: ['premium'],
          protected_max_in_flight: MAX_IN_FLIGHT + 4,
          max_event_loop_lag_ms: 60_000,
          protected_max_event_loop_lag_ms: 60_000,
        },
      },
    },
    deployments: [{ name: 'chat-1', group: 'chat' }],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

/** A request whose body is sent but for its last byte: past its headers, held until finish(). */
function held(key: string, base = stack.url): { finish: () => Promise<{ status: number; body: string }> } {
  const url = new URL(base);
  const req: ClientRequest = request({
    host: url.hostname,
    port: url.port,
    method: 'POST',
    path: '/v1/chat/completions',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), authorization: `Bearer ${key}` },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write(BODY.slice(0, -1));
  return {
    finish: () => {
      req.end(BODY.slice(-1));
      return response;
    },
  };
}

const metrics = async () => (await fetch(`${stack.routerAdmin}/metrics`)).text();
const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
const awaitingDecision = async () => gauge(await metrics(), 'llm_router_awaiting_decision');
/** Envoy's count of ext_proc messages the router did not answer within message_timeout (every ext_proc filter). */
const messageTimeouts = async () => Object.values(await stack.stats('ext_proc\\.message_timeouts$')).reduce((n, v) => n + v, 0);

/** A request sent whole, with how long its answer took. */
async function timed(key: string, base = stack.url): Promise<{ status: number; retryAfter: string | null; error: { code: string; type: string; message: string } | undefined; ms: number }> {
  const started = performance.now();
  const res = await postChat(base, BODY, { authorization: `Bearer ${key}` });
  const ms = performance.now() - started;
  const json = (await res.json()) as { error?: { code: string; type: string; message: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error: json.error, ms };
}

it('past the in-flight bound: the excess refused at once with 503 overloaded, the protected tier served, nothing left counted', async () => {
  stack.resetMocks();
  const timeoutsBefore = await messageTimeouts();
  const holding = Array.from({ length: MAX_IN_FLIGHT }, () => held(KEYS.free));
  await waitUntil(async () => (await awaitingDecision()) === MAX_IN_FLIGHT, 10_000, () => 'the held requests never all reached the router');

  const refused = await Promise.all(Array.from({ length: 5 }, () => timed(KEYS.free)));
  for (const r of refused) {
    expect(r.status).toBe(503);
    expect(r.retryAfter).toBe('1');
    expect(r.error).toEqual({
      code: 'overloaded',
      type: 'service_unavailable_error',
      param: null,
      message: `The gateway is overloaded (${MAX_IN_FLIGHT} requests await a routing decision, limit ${MAX_IN_FLIGHT}); retry after 1 s.`,
    });
    // Envoy's message timeout is 2 s: a refusal normally takes milliseconds, and even on a loaded
    // machine stays far below the time a request waiting for that timeout would take.
    expect(r.ms).toBeLessThan(1000);
  }
  const premium = await Promise.all([timed(KEYS.premium), timed(KEYS.premium)]);
  expect(premium.map((r) => r.status)).toEqual([200, 200]);
  // The router stays responsive throughout.
  expect((await fetch(`${stack.routerAdmin}/healthz`)).status).toBe(200);

  const served = await Promise.all(holding.map((h) => h.finish()));
  expect(served.map((r) => r.status)).toEqual([200, 200, 200]);
  // Refused requests never reached the provider; every admitted one did, once.
  expect(stack.mocks['chat-1']![0]!.stats().requests).toBe(MAX_IN_FLIGHT + 2);

  const text = await metrics();
  expect(text).toContain(`llm_router_overloaded_total{tier="free",reason="in_flight"} 5`);
  expect(text).not.toMatch(/llm_router_overloaded_total\{tier="premium"/);
  // Nothing left counted: the decision gauge, the deployment's load, the free key's reservations.
  await waitUntil(async () => (await awaitingDecision()) === 0, 5_000, () => 'requests still counted as awaiting a decision');
  await waitUntil(
    async () => ((await (await stack.adminFetch('/load')).json()) as { data: Record<string, { inFlight: number }> }).data['chat-1']!.inFlight === 0,
    5_000,
    () => 'the deployment still counts requests in flight',
  );
  const records = (await stack.usageLog()).filter((r) => r.keyId === 'free');
  expect(records).toHaveLength(MAX_IN_FLIGHT);
  // The key's budget holds what its requests cost, and no reservation besides.
  const billed = records.reduce((n, r) => n + r.costNanos, 0);
  const spentNanos = async () => {
    const budgets = (await (await stack.adminFetch('/budgets')).json()) as { data: Array<{ owner: string; spent_usd: number }> };
    return Math.round(budgets.data.find((b) => b.owner === 'key free')!.spent_usd * 1e9);
  };
  await waitUntil(async () => (await spentNanos()) === billed, 5_000, () => `the free key's budget does not hold what was billed (${billed} nano-USD)`);
  // Envoy failed nothing closed for want of an answer.
  expect(await messageTimeouts()).toBe(timeoutsBefore);
});

it('a burst far past the bound: every request answered 200 or 503 overloaded by the router, none left to time out', async () => {
  stack.resetMocks();
  const timeoutsBefore = await messageTimeouts();
  // Twenty times the bound at once. Not more: on a test machine shared by many processes, the
  // router's share of a core reads about 200 header messages a second, and this test must not
  // depend on its neighbours' load to stay under Envoy's 2 s message timeout.
  const burst = await Promise.all(Array.from({ length: 20 * MAX_IN_FLIGHT }, () => timed(KEYS.free)));
  const ok = burst.filter((r) => r.status === 200).length;
  const shed = burst.filter((r) => r.status === 503 && r.error?.code === 'overloaded').length;
  expect(ok + shed).toBe(burst.length);
  expect(stack.mocks['chat-1']![0]!.stats().requests).toBe(ok);
  await waitUntil(async () => (await awaitingDecision()) === 0, 5_000, () => 'requests still counted as awaiting a decision');
  expect(await messageTimeouts()).toBe(timeoutsBefore);
});

it("past Envoy's own bound on streams to the router (circuit breaker max_requests), requests are refused at once without reaching it", async () => {
  const LIMIT = 4;
  const small = await startStack({
    config: { auth: { mode: 'keys' }, keys: [{ name: 'free', key_sha256: hashKey(KEYS.free), tier: 'free' }] },
    deployments: [{ name: 'chat-1', group: 'chat' }],
    routerMaxRequests: LIMIT,
  });
  try {
    const active = async () => (await small.stats('^cluster\\.llm_router\\.upstream_rq_active$'))['cluster.llm_router.upstream_rq_active'] ?? 0;
    const holding = Array.from({ length: LIMIT }, () => held(KEYS.free, small.url));
    await waitUntil(async () => (await active()) === LIMIT, 10_000, () => 'the held requests never all opened a stream to the router');
    const refused = await Promise.all(Array.from({ length: 3 }, () => timed(KEYS.free, small.url)));
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(1000);
    }
    // Refused by the breaker: no stream opened to the router, so nothing there waited for a timeout.
    expect((await small.stats('^cluster\\.llm_router\\.upstream_rq_active_overflow$'))['cluster.llm_router.upstream_rq_active_overflow']).toBe(3);
    const served = await Promise.all(holding.map((h) => h.finish()));
    expect(served.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(small.mocks['chat-1']![0]!.stats().requests).toBe(LIMIT);
    expect(Object.values(await small.stats('ext_proc\\.message_timeouts$')).reduce((n, v) => n + v, 0)).toBe(0);
  } finally {
    await small.stop();
  }
}, 60_000);

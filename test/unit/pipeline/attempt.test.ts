/** Envoy's attempts of a request, as the router's upstream filters show them: next hops, hop rewrites, cooldowns. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { NO_ATTRIBUTES, PASS, type Attributes, type Outcome } from '../../../src/pipeline/types.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { fixedEnv } from '../../support/fixtures.js';

const YAML = `
model_groups:
  - {name: main, fallbacks: [other]}
  - {name: other}
deployments:
  - {name: a, provider: openai, model_group: main, provider_model: model-a, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000, api_key_env: KEY_A}
  - {name: b, provider: openai, model_group: main, provider_model: model-a, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000}
  - {name: o, provider: openai, model_group: other, provider_model: model-o, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000, api_key_env: KEY_O}
`;
const NOW = Date.UTC(2026, 10, 22, 12);

function setup() {
  const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  const p = new Pipeline(parseConfig(YAML, 'router.yaml', { KEY_A: 'sk-a', KEY_O: 'sk-o' }), store, fixedEnv([0.1], NOW), pino({ level: 'silent' }));
  return { p, store };
}

const on = (cluster: string, attempt: number, plan = 'a b o', next: string | null = null): Attributes => ({
  ...NO_ATTRIBUTES,
  cluster,
  attempt,
  requestId: 'r1',
  plan,
  nextCluster: next,
});
const headers = (extra: Record<string, string> = {}) => ({ 'x-request-id': 'r1', 'x-llm-plan': 'a b o', ...extra });
const cont = (o: Outcome) => {
  if (o.kind !== 'continue') throw new Error('expected continue');
  return o;
};

describe('a retry (the hop filter)', () => {
  it("to another deployment of the group: names the next hop, that deployment's credential (none: the previous one removed)", () => {
    const { p } = setup();
    const out = cont(p.hop().onRequestHeaders(headers(), false, on('b', 2)));
    expect(out.setHeaders).toEqual([['x-llm-cluster', 'o'], [':path', '/v1/chat/completions']]);
    expect(out.removeHeaders).toEqual(['x-envoy-attempt-count', 'authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'accept-encoding']);
    expect(out.readRequestBody).toBe(false);
  });

  it('on the primary: its own credential again, whatever an earlier attempt on another cluster left in the shared headers', () => {
    const { p } = setup();
    const out = cont(p.hop().onRequestHeaders(headers({ 'x-llm-plan': 'b a o' }), false, on('a', 3, 'b a o')));
    expect(out.setHeaders).toEqual([
      ['x-llm-cluster', 'o'],
      [':path', '/v1/chat/completions'],
      ['authorization', 'Bearer sk-a'],
    ]);
    expect(out.removeHeaders).toEqual(['x-envoy-attempt-count', 'x-api-key', 'api-key', 'x-goog-api-key', 'accept-encoding']);
  });

  it('to a deployment with another model id: the body rewritten for it', () => {
    const { p } = setup();
    const hop = p.hop();
    const out = cont(hop.onRequestHeaders(headers(), false, on('o', 3)));
    expect(out.setHeaders).toEqual([
      ['x-llm-cluster', 'o'],
      [':path', '/v1/chat/completions'],
      ['authorization', 'Bearer sk-o'],
    ]);
    expect(out.readRequestBody).toBe(true);
    expect(hop.done).toBe(false);
    const body = cont(hop.onRequestBody(Buffer.from(JSON.stringify({ model: 'model-a', messages: [] }))));
    expect(JSON.parse(body.body!.toString())).toEqual({ model: 'model-o', messages: [] });
    expect(body.setHeaders).toEqual([['content-length', String(body.body!.length)]]);
    expect(hop.done).toBe(true);
  });

  it('a first attempt that got no response (refused, reset) counts as a failure; three in a row cool the deployment', async () => {
    const { p, store } = setup();
    const ids = [p.attempts.open(), p.attempts.open(), p.attempts.open()];
    for (const [i, id] of ids.entries()) {
      p.hop().onRequestHeaders(headers({ 'x-request-id': `r${i}`, 'x-llm-plan': `@${id} a b o` }), false, on('b', 2));
    }
    expect((await store.loadOf(['a'], NOW))[0]!.coolingUntilMs).toBe(NOW + 5000);
    expect(p.attempts.take(ids[0]).map((r) => [r.attempt, r.deployment, r.result])).toEqual([
      [1, 'a', 'failed'],
      [2, 'b', 'sent'],
    ]);
  });

  it('a request the router did not route is left alone', () => {
    const { p } = setup();
    const hop = p.hop();
    expect(hop.onRequestHeaders({ 'x-request-id': 'r' }, false, on('a', 2))).toBe(PASS);
    expect(hop.done).toBe(true);
  });
});

describe('an attempt that did not succeed (the failed-attempt filter)', () => {
  it('a 429 with Retry-After cools the deployment until then; a retry that stays in it waits for it (x-llm-backoff)', async () => {
    const { p, store } = setup();
    const first = p.failedAttempt();
    expect(first.onResponseHeaders({ ':status': '429', 'retry-after': '2' }, false, on('a', 1, 'a b o', 'b'))).toBe(PASS);
    expect(first.done).toBe(true);
    expect((await store.loadOf(['a'], NOW))[0]!.coolingUntilMs).toBe(NOW + 2000);
    // The next retry skips the cooling deployment.
    expect(cont(p.hop().onRequestHeaders(headers({ 'x-request-id': 'r2', 'x-llm-plan': 'b a o' }), false, on('b', 2))).setHeaders).toEqual([['x-llm-cluster', 'o'], [':path', '/v1/chat/completions']]);
    // When the next attempt stays in the deployment, Envoy waits for the provider's delay.
    const last = p.failedAttempt();
    expect(cont(last.onResponseHeaders({ ':status': '429', 'retry-after': '3' }, false, on('o', 1, 'o', 'o'))).setHeaders).toEqual([['x-llm-backoff', '3']]);
  });

  it('a 400 is read whole only when a hop could take it over, and marked for retry when one serves its reason', () => {
    const { p } = setup();
    const a = p.failedAttempt();
    expect(cont(a.onResponseHeaders({ ':status': '400' }, false, on('a', 1, 'a b o:p', 'b'))).readBody).toBe('buffered');
    expect(cont(a.onResponseBody(Buffer.from('{"error":{"code":"content_filter"}}'))).setHeaders).toEqual([['x-llm-retry', 'content_policy']]);
    // The retry, knowing why, names the hop that serves the reason.
    expect(cont(p.hop().onRequestHeaders(headers({ 'x-llm-plan': 'a b o:p' }), false, on('b', 2))).setHeaders[0]).toEqual(['x-llm-cluster', 'o']);
    // Another 400 is the client's: passed on.
    const other = p.failedAttempt();
    other.onResponseHeaders({ ':status': '400' }, false, { ...on('a', 1, 'a b o:p', 'b'), requestId: 'r2' });
    expect(other.onResponseBody(Buffer.from('{"error":{"code":"invalid_value"}}'))).toBe(PASS);
    // No plan that could take a 400 over: not even read.
    const alone = p.failedAttempt();
    expect(alone.onResponseHeaders({ ':status': '400' }, false, { ...on('a', 1, 'a b', 'b'), requestId: 'r3' })).toBe(PASS);
  });

  it('without the plan and the deployment in its attributes, does nothing', () => {
    const { p } = setup();
    const a = p.failedAttempt();
    expect(a.onResponseHeaders({ ':status': '503' }, false, NO_ATTRIBUTES)).toBe(PASS);
    expect(a.done).toBe(true);
  });
});

describe('across a config reload', () => {
  // The reload removes deployment o (and its group's fallback to it) and adds n.
  const RELOADED = YAML.replace('  - {name: main, fallbacks: [other]}\n', '  - {name: main}\n')
    .replace(/ {2}- \{name: o,.*\n/, '')
    .replace('  - {name: other}\n', '')
    .concat('  - {name: n, provider: openai, model_group: main, provider_model: model-a, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000}\n');

  it("a retry planned before it still gets a removed deployment's credential and model id; new plans never name it", () => {
    const { p: before } = setup();
    before.availability.cool('b', NOW + 60_000);
    before.metrics.reloads.inc({ result: 'ok' });
    const after = new Pipeline(parseConfig(RELOADED, 'router.yaml', { KEY_A: 'sk-a' }), before.store, fixedEnv([0.1], NOW), pino({ level: 'silent' }), new Map(), before);
    // An in-flight request, planned "a b o", retried on o after the reload.
    const out = cont(after.hop().onRequestHeaders(headers(), false, on('o', 3)));
    expect(out.setHeaders).toEqual([
      ['x-llm-cluster', 'o'],
      [':path', '/v1/chat/completions'],
      ['authorization', 'Bearer sk-o'],
    ]);
    expect(out.readRequestBody).toBe(true);
    // A retry on a: o, gone from the config, is no longer a hop for it; b still cools.
    expect(cont(after.hop().onRequestHeaders(headers(), false, on('a', 2))).setHeaders).toEqual([
      ['x-llm-cluster', 'a'],
      [':path', '/v1/chat/completions'],
      ['authorization', 'Bearer sk-a'],
    ]);
    expect([after.usable('o', NOW), after.usable('b', NOW), after.usable('n', NOW)]).toEqual([false, false, true]);
    expect(after.metrics.reloads.valueOf({ result: 'ok' })).toBe(1);
  });
});

describe('the attempt log', () => {
  const ATTEMPT_ONE_FAILED = { ':status': '503' };

  it('keeps attempts by the id in the plan, not by x-request-id: requests sharing a client-chosen x-request-id never see each other\'s', () => {
    const { p } = setup();
    const [first, second] = [p.attempts.open(), p.attempts.open()];
    // Both requests carry the same x-request-id (a client's own); the first one's attempt 1 fails.
    p.failedAttempt().onResponseHeaders(ATTEMPT_ONE_FAILED, true, { ...on('a', 1, `@${first} a b o`, 'b'), requestId: 'same' });
    p.hop().onRequestHeaders(headers({ 'x-request-id': 'same', 'x-llm-plan': `@${first} a b o` }), false, on('b', 2));
    expect(p.attempts.peek(second)).toEqual([]);
    expect(p.attempts.take(first).map((r) => [r.attempt, r.deployment, r.result])).toEqual([
      [1, 'a', 'failed'],
      [2, 'b', 'sent'],
    ]);
  });

  it('leaves nothing behind: a request planned elsewhere (another replica) or already ended records nothing', () => {
    const { p } = setup();
    const ended = p.attempts.open();
    p.attempts.take(ended);
    for (const plan of [`@${ended} a b o`, '@another-replica.0 a b o', 'a b o']) {
      p.hop().onRequestHeaders(headers({ 'x-llm-plan': plan }), false, on('b', 2));
      p.failedAttempt().onResponseHeaders(ATTEMPT_ONE_FAILED, true, on('b', 2, plan, 'o'));
    }
    expect(p.attempts.peek(ended)).toEqual([]);
    expect(p.attempts.peek('another-replica.0')).toEqual([]);
    // The metrics and cooldowns still count every attempt.
    expect(p.metrics.attempts.valueOf({ deployment: 'b', hop: 'fallback', result: 'failed' })).toBe(3);
  });

  it('a routed request opens its id in the plan and closes it when it ends, however it ends', async () => {
    const { p } = setup();
    const x = p.exchange();
    x.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': 'r1' }, false);
    const out = cont(await x.onRequestBody(Buffer.from(JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'hi' }] }))));
    const plan = out.setHeaders.find(([h]) => h === 'x-llm-plan')![1];
    const id = /^@(\S+) /.exec(plan)![1]!;
    p.hop().onRequestHeaders(headers({ 'x-llm-plan': plan }), false, on('b', 2));
    expect(p.attempts.peek(id).map((r) => r.attempt)).toEqual([1, 2]);
    x.onEnd(); // the client went away
    expect(p.attempts.peek(id)).toEqual([]);
    p.hop().onRequestHeaders(headers({ 'x-llm-plan': plan }), false, on('o', 3));
    expect(p.attempts.peek(id)).toEqual([]);
  });
});

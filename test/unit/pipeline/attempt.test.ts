/** One attempt of a request, as the router's upstream filter sees it: next hops, hop rewrites, cooldowns. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { PASS, type Attributes, type Outcome } from '../../../src/pipeline/types.js';
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

const on = (cluster: string, attempt: number): Attributes => ({ status: null, cluster, attempt });
const headers = (extra: Record<string, string> = {}) => ({ 'x-request-id': 'r1', 'x-llm-plan': 'a b o', ...extra });
const cont = (o: Outcome) => {
  if (o.kind !== 'continue') throw new Error('expected continue');
  return o;
};

describe('an attempt', () => {
  it('on the primary: names the next hop, removes the attempt count, changes nothing else', () => {
    const { p } = setup();
    const out = cont(p.attempt().onRequestHeaders(headers(), false, on('a', 1)));
    expect(out.setHeaders).toEqual([['x-llm-cluster', 'b']]);
    expect(out.removeHeaders).toEqual(['x-envoy-attempt-count']);
    expect(out.readRequestBody).toBeUndefined();
  });

  it("on a fallback hop: that deployment's credential (none: the previous one removed) and model id", () => {
    const { p } = setup();
    const toB = cont(p.attempt().onRequestHeaders(headers(), false, on('b', 2)));
    expect(toB.setHeaders).toEqual([['x-llm-cluster', 'o']]);
    expect(toB.removeHeaders).toContain('authorization');
    expect(toB.readRequestBody).toBe(false);
    const hop = p.attempt();
    const toO = cont(hop.onRequestHeaders(headers(), false, on('o', 3)));
    expect(toO.setHeaders).toEqual([
      ['x-llm-cluster', 'o'],
      ['authorization', 'Bearer sk-o'],
    ]);
    expect(toO.readRequestBody).toBe(true);
    const body = cont(hop.onRequestBody(Buffer.from(JSON.stringify({ model: 'model-a', messages: [] }))));
    expect(JSON.parse(body.body!.toString())).toEqual({ model: 'model-o', messages: [] });
    expect(body.setHeaders).toEqual([['content-length', String(body.body!.length)]]);
  });

  it('a 429 with Retry-After cools the deployment until then; a retry that stays in it waits for it (x-llm-backoff)', async () => {
    const { p, store } = setup();
    const first = p.attempt();
    first.onRequestHeaders(headers(), false, on('a', 1));
    expect(first.onResponseHeaders({ ':status': '429', 'retry-after': '2' }, false, on('a', 1))).toBe(PASS);
    expect(first.done).toBe(true);
    expect((await store.loadOf(['a'], NOW))[0]!.coolingUntilMs).toBe(NOW + 2000);
    // The next attempt skips the cooling deployment.
    expect(cont(p.attempt().onRequestHeaders(headers({ 'x-llm-plan': 'b a o' }), false, on('b', 1))).setHeaders).toEqual([['x-llm-cluster', 'o']]);
    // With no hop left, Envoy retries in the same deployment after the provider's delay.
    const last = p.attempt();
    last.onRequestHeaders(headers({ 'x-llm-plan': 'o' }), false, on('o', 1));
    expect(cont(last.onResponseHeaders({ ':status': '429', 'retry-after': '3' }, false, on('o', 1))).setHeaders).toEqual([['x-llm-backoff', '3']]);
  });

  it('a connection that fails before any response counts as a failure; three in a row cool the deployment', async () => {
    const { p, store } = setup();
    for (let i = 1; i <= 3; i++) {
      const a = p.attempt();
      a.onRequestHeaders(headers(), false, on('a', i));
      a.onEnd();
    }
    expect((await store.loadOf(['a'], NOW))[0]!.coolingUntilMs).toBe(NOW + 5000);
    expect(p.attempts.take('r1').map((r) => r.result)).toEqual(['failed', 'failed', 'failed']);
  });

  it('a 400 is read whole only when a hop could take it over, and marked for retry when one serves its reason', () => {
    const { p } = setup();
    const a = p.attempt();
    a.onRequestHeaders(headers({ 'x-llm-plan': 'a b o:p' }), false, on('a', 1));
    expect(cont(a.onResponseHeaders({ ':status': '400' }, false, on('a', 1))).readBody).toBe('buffered');
    expect(cont(a.onResponseBody(Buffer.from('{"error":{"code":"content_filter"}}'), true, on('a', 1))).setHeaders).toEqual([['x-llm-retry', 'content_policy']]);
    // The next attempt, knowing why, names the hop that serves the reason.
    expect(cont(p.attempt().onRequestHeaders(headers({ 'x-llm-plan': 'a b o:p' }), false, on('b', 2))).setHeaders[0]).toEqual(['x-llm-cluster', 'o']);
    // Another 400 is the client's: passed on.
    const other = p.attempt();
    other.onRequestHeaders(headers({ 'x-request-id': 'r2', 'x-llm-plan': 'a b o:p' }), false, on('a', 1));
    other.onResponseHeaders({ ':status': '400' }, false, on('a', 1));
    expect(other.onResponseBody(Buffer.from('{"error":{"code":"invalid_value"}}'), true, on('a', 1))).toBe(PASS);
    // No plan that could take a 400 over: not even read.
    const alone = p.attempt();
    alone.onRequestHeaders(headers({ 'x-request-id': 'r3', 'x-llm-plan': 'a b' }), false, on('a', 1));
    expect(alone.onResponseHeaders({ ':status': '400' }, false, on('a', 1))).toBe(PASS);
  });

  it('a request the router did not route is left alone', () => {
    const { p } = setup();
    const a = p.attempt();
    expect(a.onRequestHeaders({ 'x-request-id': 'r' }, false, on('a', 1))).toBe(PASS);
    expect(a.done).toBe(true);
  });
});

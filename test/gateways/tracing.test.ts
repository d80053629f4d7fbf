/**
 * Traces through the stack, into a real OpenTelemetry Collector (built from the Go module proxy by
 * scripts/gateways/otel-collector.mjs): Envoy's OpenTelemetry tracer (the shipped envoy.yaml,
 * pointed at the collector, sampling every request) and the router (router.yaml `tracing`) both
 * export to it, and it exports what it received as OTLP JSON to a small receiver of the test's. A
 * chat whose client sent a `traceparent` is one trace holding the client's parent, Envoy's span and
 * the router's request span under it with its decision, admission, attempt and response-accounting
 * spans carrying `gen_ai.*`; a fallback hop shows two attempt spans; the router's log line of the
 * request names the trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../src/devstack/processes.js';
import { startStack, type Stack } from '../support/stack.js';
import { one, routerSpanUnderEnvoy, startCollector, type Collector } from './support/collector.js';

const CLIENT_TRACE = 'e0c6f1d2a3b4c5d6e7f8091a2b3c4d5e';
const CLIENT_SPAN = '1a2b3c4d5e6f7081';

let collector: Collector;
let stack: Stack;

beforeAll(async () => {
  collector = await startCollector();
  stack = await startStack({
    deployments: [
      { name: 'primary', group: 'gpt-4o', providerModel: 'gpt-4o-2024-08-06' },
      { name: 'backup', group: 'gpt-4o-backup', providerModel: 'gpt-4o-backup-model', extra: { provider: 'azure-openai' } },
    ],
    groups: { 'gpt-4o': { fallbacks: ['gpt-4o-backup'] } },
    config: { tracing: { endpoint: `http://127.0.0.1:${collector.httpPort}`, export_interval_ms: 100 } },
    envoyTracing: { collectorPort: collector.grpcPort, samplingPercent: 100 },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await collector?.stop();
});

function chat(traceparent: string): Promise<Response> {
  return fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }),
  });
}

const traceOf = (traceId: string) => collector.trace(traceId, 'chat gpt-4o');

describe('traces through Envoy and the router into a real collector', () => {
  it('a chat is one trace: the client’s parent, Envoy’s span, and the router’s decision, admission, attempt and accounting spans with gen_ai attributes', async () => {
    const res = await chat(`00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
    expect(res.status).toBe(200);
    await res.text();
    const spans = await traceOf(CLIENT_TRACE);
    const root = routerSpanUnderEnvoy(spans, CLIENT_SPAN, 'chat gpt-4o');
    expect(root.attrs).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'llm_router.deployment': 'primary',
      'llm_router.request_id': res.headers.get('x-request-id'),
    });
    expect(root.attrs['gen_ai.response.model']).toEqual(expect.any(String));
    expect(root.attrs['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(root.attrs['gen_ai.usage.output_tokens']).toBeGreaterThan(0);

    const decision = one(spans, 'routing decision');
    expect(decision.parentSpanId).toBe(root.spanId);
    expect(decision.attrs).toMatchObject({ 'llm_router.decision.candidates': ['primary'], 'llm_router.decision.hops': ['backup'], 'gen_ai.request.model': 'gpt-4o' });
    expect(one(spans, 'admission').parentSpanId).toBe(root.spanId);
    expect(one(spans, 'chat attempt 1').attrs).toMatchObject({ 'llm_router.deployment': 'primary', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-2024-08-06', 'http.response.status_code': 200 });
    expect(one(spans, 'response accounting').attrs).toMatchObject({ 'gen_ai.usage.output_tokens': root.attrs['gen_ai.usage.output_tokens'] });

    // The router's log line of the request names the trace and its span.
    await waitUntil(async () => stack.router.output().includes(`"trace_id":"${CLIENT_TRACE}"`), 5_000, () => stack.router.output().slice(-2000));
    const line = stack.router.output().split('\n').find((l) => l.includes(`"trace_id":"${CLIENT_TRACE}"`))!;
    expect(JSON.parse(line)).toMatchObject({ msg: 'request', trace_id: CLIENT_TRACE, span_id: root.spanId });
  });

  it('a fallback hop shows two attempt spans: the failed one on the primary, the answering one on the backup', async () => {
    stack.mock('primary').setBehaviour({ status: 500 });
    try {
      const trace = 'f1e2d3c4b5a697887766554433221100';
      const res = await chat(`00-${trace}-${CLIENT_SPAN}-01`);
      expect(res.status).toBe(200);
      await res.text();
      const spans = await traceOf(trace);
      const first = one(spans, 'chat attempt 1');
      const second = one(spans, 'chat attempt 2');
      expect(first.attrs).toMatchObject({ 'llm_router.deployment': 'primary', 'http.response.status_code': 500 });
      expect(first.status?.code).toBe(2);
      expect(second.attrs).toMatchObject({ 'llm_router.deployment': 'backup', 'gen_ai.provider.name': 'azure.ai.openai', 'http.response.status_code': 200 });
      expect(one(spans, 'chat gpt-4o').attrs).toMatchObject({ 'llm_router.deployment': 'backup', 'gen_ai.provider.name': 'azure.ai.openai' });
    } finally {
      stack.mock('primary').setBehaviour({ status: 200 });
    }
  });
});

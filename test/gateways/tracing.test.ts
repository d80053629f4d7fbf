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
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import { freePort } from '../../src/devstack/ports.js';
import { startStack, type Stack } from '../support/stack.js';

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly attributes?: ReadonlyArray<{ key: string; value: Record<string, unknown> }>;
  readonly status?: { code?: number };
}
interface ReceivedSpan extends OtlpSpan {
  readonly service: string;
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** What the collector exported to the test, span by span, with its service and attributes as plain values. */
const received: ReceivedSpan[] = [];

function plain(value: Record<string, unknown>): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('boolValue' in value) return value.boolValue;
  if ('arrayValue' in value) return ((value.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(plain);
  return value;
}

function attributesOf(list: OtlpSpan['attributes']): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));
}

/** The collector's OTLP/HTTP exporter, encoding JSON, posts here. */
function startReceiver(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: Array<{ resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) received.push({ ...s, service, attrs: attributesOf(s.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function collectorConfig(grpcPort: number, httpPort: number, receiverPort: number): string {
  return `receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:${grpcPort}"}
      http: {endpoint: "127.0.0.1:${httpPort}"}
exporters:
  otlphttp:
    traces_endpoint: "http://127.0.0.1:${receiverPort}/v1/traces"
    encoding: json
    compression: none
service:
  telemetry:
    metrics: {level: none}
  pipelines:
    traces: {receivers: [otlp], exporters: [otlphttp]}
`;
}

const CLIENT_TRACE = 'e0c6f1d2a3b4c5d6e7f8091a2b3c4d5e';
const CLIENT_SPAN = '1a2b3c4d5e6f7081';

let collector: Child;
let receiver: Server;
let stack: Stack;

beforeAll(async () => {
  const bin = process.env.OTELCOL_BIN;
  if (bin === undefined) throw new Error('OTELCOL_BIN is not set: run this through `npm run test:gateways` (scripts/gateways/otel-collector.mjs builds it)');
  const [grpcPort, httpPort, receiverPort] = [await freePort(), await freePort(), await freePort()];
  receiver = await startReceiver(receiverPort);
  const dir = mkdtempSync(join(tmpdir(), 'otelcol-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, collectorConfig(grpcPort, httpPort, receiverPort));
  collector = spawnChild('otelcol', bin, ['--config', configFile], { logFile: join(dir, 'otelcol.log') });
  // The HTTP receiver answers an empty export once the pipeline is up.
  const ready = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return res.ok;
    } catch {
      return false;
    }
  };
  await waitUntil(ready, 30_000, () => `collector not ready:\n${collector.output()}`, collector);
  stack = await startStack({
    deployments: [
      { name: 'primary', group: 'gpt-4o', providerModel: 'gpt-4o-2024-08-06' },
      { name: 'backup', group: 'gpt-4o-backup', providerModel: 'gpt-4o-backup-model', extra: { provider: 'azure-openai' } },
    ],
    groups: { 'gpt-4o': { fallbacks: ['gpt-4o-backup'] } },
    config: { tracing: { endpoint: `http://127.0.0.1:${httpPort}`, export_interval_ms: 100 } },
    envoyTracing: { collectorPort: grpcPort, samplingPercent: 100 },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await collector?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

function chat(traceparent: string): Promise<Response> {
  return fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }),
  });
}

/** The spans of `traceId` once the router's request span and an Envoy span have both arrived. */
async function traceOf(traceId: string): Promise<ReceivedSpan[]> {
  const spans = () => received.filter((s) => s.traceId === traceId);
  const complete = async () => spans().some((s) => s.service === 'llm-router' && s.name === 'chat gpt-4o') && spans().some((s) => s.service === 'llm-gateway');
  await waitUntil(complete, 20_000, () => `trace ${traceId} incomplete; received ${JSON.stringify(spans().map((s) => [s.service, s.name]))}\n${collector.output()}`);
  // Envoy ends its request span after the router's: give its export a moment to land too.
  await waitUntil(async () => spans().filter((s) => s.service === 'llm-gateway').length >= 2, 10_000, () => `Envoy's spans of ${traceId}: ${JSON.stringify(spans().map((s) => [s.service, s.name]))}`);
  return spans();
}

const one = (spans: readonly ReceivedSpan[], name: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};

describe('traces through Envoy and the router into a real collector', () => {
  it('a chat is one trace: the client’s parent, Envoy’s span, and the router’s decision, admission, attempt and accounting spans with gen_ai attributes', async () => {
    const res = await chat(`00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
    expect(res.status).toBe(200);
    await res.text();
    const spans = await traceOf(CLIENT_TRACE);
    const byId = new Map(spans.map((s) => [s.spanId, s]));

    // Envoy's request span continues the client's trace.
    const envoyRequest = spans.find((s) => s.service === 'llm-gateway' && s.parentSpanId === CLIENT_SPAN);
    expect(envoyRequest, JSON.stringify(spans.map((s) => [s.service, s.name, s.parentSpanId]))).toBeDefined();

    // The router's request span is a child of Envoy's span of the ext_proc call (the trace context
    // came on the gRPC call, not in the request's headers), itself under Envoy's request span.
    const root = one(spans, 'chat gpt-4o');
    expect(root.service).toBe('llm-router');
    const parent = byId.get(root.parentSpanId ?? '');
    expect(parent?.service).toBe('llm-gateway');
    expect(parent?.name).toContain('ExternalProcessor');
    expect(parent?.parentSpanId).toBe(envoyRequest!.spanId);
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

/**
 * A real OpenTelemetry Collector (built from the Go module proxy by scripts/gateways/otel-collector.mjs)
 * receiving OTLP over gRPC and HTTP, and exporting what it received as OTLP JSON to a small receiver
 * of the test's, which keeps every span with its service and its attributes as plain values.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { spawnChild, waitUntil, type Child } from '../../../src/devstack/processes.js';
import { freePort } from '../../../src/devstack/ports.js';

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly attributes?: ReadonlyArray<{ key: string; value: Record<string, unknown> }>;
  readonly status?: { code?: number };
}

export interface ReceivedSpan extends OtlpSpan {
  readonly service: string;
  readonly attrs: Readonly<Record<string, unknown>>;
}

export interface Collector {
  /** Where OTLP/gRPC (Envoy's tracer) and OTLP/HTTP (the router) are received. */
  readonly grpcPort: number;
  readonly httpPort: number;
  /**
   * The spans of `traceId` once the router's request span `rootName` and Envoy's spans (its request
   * and its ext_proc call) have all arrived.
   */
  trace(traceId: string, rootName: string): Promise<ReceivedSpan[]>;
  output(): string;
  stop(): Promise<void>;
}

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

/** The collector's OTLP/HTTP exporter, encoding JSON, posts here; each span lands in `into`. */
function startReceiver(port: number, into: ReceivedSpan[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: Array<{ resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) into.push({ ...s, service, attrs: attributesOf(s.attributes) });
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

/** Starts the collector on the given ports (free ones by default) and waits until it accepts exports. */
export async function startCollector(ports: { readonly grpc?: number; readonly http?: number } = {}): Promise<Collector> {
  const bin = process.env.OTELCOL_BIN;
  if (bin === undefined) throw new Error('OTELCOL_BIN is not set: run this through `npm run test:gateways` (scripts/gateways/otel-collector.mjs builds it)');
  const grpcPort = ports.grpc ?? (await freePort());
  const httpPort = ports.http ?? (await freePort());
  const receiverPort = await freePort();
  const received: ReceivedSpan[] = [];
  const receiver = await startReceiver(receiverPort, received);
  const dir = mkdtempSync(join(tmpdir(), 'otelcol-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, collectorConfig(grpcPort, httpPort, receiverPort));
  const collector: Child = spawnChild('otelcol', bin, ['--config', configFile], { logFile: join(dir, 'otelcol.log') });
  const stop = async (): Promise<void> => {
    await collector.stop();
    await new Promise((resolve) => receiver.close(resolve));
  };
  // The HTTP receiver answers an empty export once the pipeline is up.
  const ready = async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    return res.ok;
  };
  try {
    await waitUntil(ready, 30_000, () => `collector not ready:\n${collector.output()}`, collector);
  } catch (err) {
    await stop();
    throw err;
  }

  const spansOf = (traceId: string) => received.filter((s) => s.traceId === traceId);
  const names = (traceId: string) => JSON.stringify(spansOf(traceId).map((s) => [s.service, s.name]));
  return {
    grpcPort,
    httpPort,
    output: () => collector.output(),
    stop,
    trace: async (traceId, rootName) => {
      const spans = () => spansOf(traceId);
      const complete = async () => spans().some((s) => s.service === 'llm-router' && s.name === rootName) && spans().some((s) => s.service === 'llm-gateway');
      await waitUntil(complete, 20_000, () => `trace ${traceId} incomplete; received ${names(traceId)}\n${collector.output()}`);
      // Envoy ends its request span after the router's: give its export a moment to land too.
      await waitUntil(async () => spans().filter((s) => s.service === 'llm-gateway').length >= 2, 10_000, () => `Envoy's spans of ${traceId}: ${names(traceId)}`);
      return spans();
    },
  };
}

/** The one span named `name` among `spans`. */
export function one(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

/**
 * The router's request span `rootName` of a trace the client started with span `clientSpanId`,
 * after asserting the trace's shape: Envoy's request span continues the client's, and the router's
 * span is a child of Envoy's span of the ext_proc call (the trace came on the gRPC call, not in the
 * request's headers), itself under Envoy's request span.
 */
export function routerSpanUnderEnvoy(spans: readonly ReceivedSpan[], clientSpanId: string, rootName: string): ReceivedSpan {
  const envoyRequest = spans.find((s) => s.service === 'llm-gateway' && s.parentSpanId === clientSpanId);
  expect(envoyRequest, JSON.stringify(spans.map((s) => [s.service, s.name, s.parentSpanId]))).toBeDefined();
  const root = one(spans, rootName);
  expect(root.service).toBe('llm-router');
  const parent = spans.find((s) => s.spanId === root.parentSpanId);
  expect(parent?.service).toBe('llm-gateway');
  expect(parent?.name).toContain('ExternalProcessor');
  expect(parent?.parentSpanId).toBe(envoyRequest!.spanId);
  return root;
}

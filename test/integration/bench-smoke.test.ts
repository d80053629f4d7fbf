/**
 * The benchmark harness itself works: it starts plain Envoy and the routed Envoy side by side,
 * drives both, and turns the samples into the report (added latency, ratios, target checks).
 * Timings are not asserted here; `npm run bench` measures them.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveFloor } from '../../bench/grpc-floor.js';
import { freePort } from '../../src/devstack/ports.js';
import { ProcessingRequestSchema, ProcessingResponseSchema, type BodyResponse, type ProcessingResponse } from '../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { measureOverExtProc } from '../../bench/extproc-rate.js';
import { writeReport, type Measurement } from '../../bench/report.js';
import { measure, openStreamsMemory } from '../../bench/run.js';
import { WORKLOADS, type Scenario } from '../../bench/scenarios.js';
import { startTargets, type Targets } from '../../bench/targets.js';

let targets: Targets;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
  targets = await startTargets(dir, { peers: false, variants: ['uds'] });
});

afterAll(async () => {
  await targets?.stop();
});

it('measures plain Envoy and the router in the same run and writes the report', async () => {
  const scenarios: Scenario[] = [
    { kind: 'closed', workload: WORKLOADS['chat-1k'], concurrency: 4, durationMs: 300 },
    { kind: 'open', workload: WORKLOADS['chat-1k'], ratePerSec: 200, durationMs: 300 },
    { kind: 'open', workload: WORKLOADS['stream-50'], ratePerSec: 200, durationMs: 300 },
  ];
  const measurements: Measurement[] = [];
  for (const s of scenarios) for (const target of targets.list) measurements.push(await measure(target, s, 0));
  for (const m of measurements) {
    expect(m.ok).toBeGreaterThan(0);
    expect(m.errors + m.dropped).toBe(0);
    expect(m.latencyMs.p99).toBeGreaterThanOrEqual(m.latencyMs.p50);
  }
  expect(measurements.find((m) => m.workload === 'stream-50' && m.target === 'router')!.gapMs.count).toBeGreaterThan(40);
  expect(measurements.find((m) => m.target === 'router')!.gatewayCpuPercent).toBeGreaterThan(0);
  // Envoy's CPU is measured for every target that has one, plain Envoy included.
  for (const name of ['plain', 'router']) expect(measurements.find((m) => m.kind === 'closed' && m.target === name)!.envoyCpuSec).toBeGreaterThan(0);
  expect(targets.list.map((t) => t.name)).toEqual(['plain', 'router', 'router-uds']);

  const memory = await openStreamsMemory(targets.router, 20);
  expect(memory).toMatchObject({ streams: 20, ok: 20 });

  const out = join(dir, 'report');
  const markdown = await writeReport({ quick: true, rounds: 1, startedAt: new Date().toISOString(), durationSec: 1, measurements, memory, unavailable: [] }, out);
  expect(markdown).toContain('| added p50, chat 1 KB, open 200/s | ≤ 0.5 ms |');
  expect(markdown).toContain('| chat-1k closed c=4 |');
  expect(markdown).toContain('| scenario | plain Envoy | router / its Envoy | router-uds / its Envoy |');
  const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as { summaries: Array<{ scenario: string; targets: Record<string, { throughputRatio: number }> }>; machine: { envoy: string } };
  expect(json.summaries.map((s) => s.scenario)).toEqual(['chat-1k closed c=4', 'chat-1k open 200/s', 'stream-50 open 200/s']);
  for (const s of json.summaries) {
    expect(s.targets.router!.throughputRatio).toBeGreaterThan(0);
    // The router over a Unix domain socket serves too.
    expect(s.targets['router-uds']!.throughputRatio).toBeGreaterThan(0);
  }
  expect(json.machine.envoy).toMatch(/^\d+\.\d+\.\d+$/);
});

it('drives the router over ext_proc alone as Envoy would, every request answered in full', async () => {
  const routers = targets.list.filter((t) => t.extProc !== undefined);
  expect(routers.map((t) => t.name)).toEqual(['router', 'router-uds']);
  for (const t of routers) {
    const r = await measureOverExtProc(t, 100, 300, 0, 0);
    expect(r).toMatchObject({ answered: 30, refused: 0, failed: 0, dropped: 0 });
    expect(r.added.p99).toBeGreaterThanOrEqual(r.added.p50);
  }
});

it("serves the grpc-js floor as the router's stand-in: each message answered in its phase, the body's reply naming the deployment, the stream closed after the answer", async () => {
  const port = await freePort();
  const floor = await serveFloor(port);
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const bytes = (init: MessageInitShape<typeof ProcessingRequestSchema>) => Buffer.from(toBinary(ProcessingRequestSchema, create(ProcessingRequestSchema, init)));
    const messages = [
      bytes({ request: { case: 'requestHeaders', value: { headers: { headers: [{ key: ':path', rawValue: Buffer.from('/v1/chat/completions') }] } } } }),
      bytes({ request: { case: 'requestBody', value: { body: WORKLOADS['stream-50'].body, endOfStream: true } } }),
      bytes({ request: { case: 'responseBody', value: { body: Buffer.from('data: {}\n\n'), endOfStream: false } } }),
      bytes({ request: { case: 'responseBody', value: { body: Buffer.from('data: [DONE]\n\n'), endOfStream: true }, }, attributes: { 'envoy.filters.http.ext_proc': { 'response.code': 200 } } }),
    ];
    const replies: ProcessingResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeBidiStreamRequest('/envoy.service.ext_proc.v3.ExternalProcessor/Process', (b: Buffer) => b, (b: Buffer) => b);
      call.on('data', (reply: Buffer) => {
        replies.push(fromBinary(ProcessingResponseSchema, reply));
        if (replies.length < messages.length) call.write(messages[replies.length]!);
      });
      // The floor closes its side after the last chunk, as the router does; the client has not.
      call.on('end', resolve);
      call.on('error', reject);
      call.write(messages[0]!);
    });
    expect(replies.map((r) => r.response.case)).toEqual(['requestHeaders', 'requestBody', 'responseBody', 'responseBody']);
    const body = replies[1]!.response.value as BodyResponse;
    expect(body.response?.clearRouteCache).toBe(true);
    expect(body.response?.headerMutation?.setHeaders.map((h) => [h.header?.key, Buffer.from(h.header?.rawValue ?? []).toString()])).toEqual([
      ['x-llm-cluster', 'bench-stream-50'],
      ['x-llm-stream', '1'],
    ]);
  } finally {
    client.close();
    floor.forceShutdown();
  }
});

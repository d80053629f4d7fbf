/**
 * npm run bench -- --extproc-rate [--rate 1000] [--seconds 10] [--rounds 3] [--out DIR]
 *
 * What the router adds to a request at a fixed open-loop rate, and what its metrics and tracing add
 * to that, in the same run: three router processes — tracing off, tracing the 1% of requests the
 * caller samples, tracing every request (spans exported to a sink that reads and discards) — each
 * driven straight over ext_proc by this process playing Envoy's part for a 1 KB chat with the
 * shipped filter's messages: request headers, the whole body, then the answer's body with the
 * status attributes, each sent once the router answered the one before, as Envoy waits for each.
 * A `traceparent` rides on the gRPC call, sampled or not, as Envoy's tracer sends it.
 *
 * A request's added latency is the sum of the router's reply times: what Envoy would hold it for.
 * Without Envoy, the provider and an HTTP load generator on the same 2 cores, the router gets the
 * CPU it needs at rates the end-to-end bench (bench/run.ts) cannot reach on this machine. The
 * targets take turns, starting with another each round, with a fourth: grpc-js alone answering
 * every message at once (bench/grpc-floor.ts), the floor the router's own work stands on.
 * Results: DIR/results.json, DIR/results.md.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import type { RouterAddress } from '../src/devstack/envoy-config.js';
import { ProcessingRequestSchema } from '../test/gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { pace } from './load.js';
import { WORKLOADS } from './scenarios.js';
import { distribution, median, type Distribution } from './stats.js';
import { cpuSeconds, startTargets, type Target } from './targets.js';

const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
const MAX_IN_FLIGHT = 4000;
/** ProcessingResponse's `immediate_response` field: the router refused the request. */
const IMMEDIATE_RESPONSE = 7;
const WORKLOAD = WORKLOADS['chat-1k'];
const MODEL = 'bench-chat';
/** Who samples what: the router's tracing config is the variant's (bench/targets.ts VARIANTS); this is Envoy's share. */
const TRACED_SHARE: Readonly<Record<string, number | null>> = { router: null, 'router-trace1': 0.01, 'router-trace100': 1, 'router-floor': null };

/** A provider's answer to the chat, as the mock sends it: what the router reads the usage from. */
const ANSWER = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_764_547_200,
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Lorem ipsum dolor sit amet, '.repeat(8) }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 260, completion_tokens: 48, total_tokens: 308 },
  }),
);

const bytes = (init: MessageInitShape<typeof ProcessingRequestSchema>): Buffer => Buffer.from(toBinary(ProcessingRequestSchema, create(ProcessingRequestSchema, init)));
const header = (key: string, value: string) => ({ key, rawValue: Buffer.from(value) });

/** Envoy's request-headers message, encoded once; each request's copy gets its own id (REQUEST_ID_DIGITS hex digits at their offset). */
const REQUEST_ID_DIGITS = 12;
const REQUEST_HEADERS = bytes({
  request: {
    case: 'requestHeaders',
    value: {
      headers: {
        headers: [
          header(':authority', '127.0.0.1:10000'),
          header(':path', '/v1/chat/completions'),
          header(':method', 'POST'),
          header(':scheme', 'http'),
          header('content-type', 'application/json'),
          header('content-length', String(WORKLOAD.body.length)),
          header('x-forwarded-proto', 'http'),
          header('x-request-id', `00000000-0000-4000-8000-${'f'.repeat(REQUEST_ID_DIGITS)}`),
        ],
      },
      endOfStream: false,
    },
  },
});
const REQUEST_ID_AT = REQUEST_HEADERS.indexOf('-8000-') + '-8000-'.length;

/** Envoy's messages for request `i`: its headers (a request id of its own), its body, the answer's body. */
function messagesOf(i: number): readonly Buffer[] {
  const headers = Buffer.from(REQUEST_HEADERS);
  headers.write(i.toString(16).padStart(REQUEST_ID_DIGITS, '0'), REQUEST_ID_AT, 'latin1');
  return [headers, REQUEST_BODY, RESPONSE_BODY];
}
const REQUEST_BODY = bytes({ request: { case: 'requestBody', value: { body: WORKLOAD.body, endOfStream: true } } });
const RESPONSE_BODY = bytes({
  request: { case: 'responseBody', value: { body: ANSWER, endOfStream: true } },
  attributes: { 'envoy.filters.http.ext_proc': { 'response.code': 200, 'xds.cluster_name': MODEL, 'upstream.request_attempt_count': 1 } },
});

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

export interface Round {
  readonly target: string;
  readonly round: number;
  readonly added: Distribution;
  /** Each message's reply time (request headers, request body, the answer's body): where the added latency is. */
  readonly perMessage: readonly Distribution[];
  /** From when the request was due to the router's last reply: `added` plus this process's own lateness. */
  readonly endToEnd: Distribution;
  readonly answered: number;
  readonly refused: number;
  readonly failed: number;
  readonly dropped: number;
  readonly throughputPerSec: number;
  readonly cpuPer1k: number;
}

/** One request as Envoy plays it: each message once the previous reply came; its added latency, or why it failed. */
function oneRequest(client: grpc.Client, i: number, share: number | null, scheduledAt: number): Promise<{ addedMs: number; replyMs: readonly number[]; endMs: number } | 'refused' | 'failed'> {
  const metadata = new grpc.Metadata();
  if (share !== null) metadata.set('traceparent', `00-${hex(32)}-${hex(16)}-${Math.random() < share ? '01' : '00'}`);
  const messages = messagesOf(i);
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(PROCESS, (b: Buffer) => b, (b: Buffer) => b, metadata);
    let next = 0;
    let sentAt = 0;
    let addedMs = 0;
    const replyMs: number[] = [];
    let settled = false;
    const settle = (outcome: Awaited<ReturnType<typeof oneRequest>>) => {
      if (settled) return;
      settled = true;
      call.end();
      resolve(outcome);
    };
    const send = () => {
      sentAt = performance.now();
      call.write(messages[next++]!);
    };
    call.on('data', (reply: Buffer) => {
      const now = performance.now();
      addedMs += now - sentAt;
      replyMs.push(now - sentAt);
      if (reply[0]! >>> 3 === IMMEDIATE_RESPONSE) return settle('refused');
      if (next < messages.length) send();
      else settle({ addedMs, replyMs, endMs: now - scheduledAt });
    });
    call.on('error', () => settle('failed'));
    call.on('end', () => settle('failed'));
    send();
  });
}

/** `target` driven over ext_proc at `ratePerSec` for `durationMs`; request ids from `first` on, so no two requests of a run share one. */
export async function measureOverExtProc(target: Target, ratePerSec: number, durationMs: number, round: number, first: number): Promise<Round> {
  const address = target.extProc as RouterAddress;
  const client = new grpc.Client(typeof address === 'number' ? `127.0.0.1:${address}` : `unix:${address.socket}`, grpc.credentials.createInsecure());
  const share = TRACED_SHARE[target.name] ?? null;
  const added: number[] = [];
  const perMessage: number[][] = [[], [], []];
  const endToEnd: number[] = [];
  let refused = 0;
  let failed = 0;
  let i = first;
  const cpuBefore = await cpuSeconds(target.pid!);
  const paced = await pace(ratePerSec, durationMs, MAX_IN_FLIGHT, async (scheduledAt) => {
    const outcome = await oneRequest(client, i++, share, scheduledAt);
    if (outcome === 'refused') refused++;
    else if (outcome === 'failed') failed++;
    else {
      added.push(outcome.addedMs);
      outcome.replyMs.forEach((ms, k) => perMessage[k]!.push(ms));
      endToEnd.push(outcome.endMs);
    }
  });
  const cpu = (await cpuSeconds(target.pid!)) - cpuBefore;
  client.close();
  return {
    target: target.name,
    round,
    added: distribution(added),
    perMessage: perMessage.map(distribution),
    endToEnd: distribution(endToEnd),
    answered: added.length,
    refused,
    failed,
    dropped: paced.dropped,
    throughputPerSec: (added.length * 1000) / paced.elapsedMs,
    cpuPer1k: added.length === 0 ? Number.NaN : (cpu * 1000) / added.length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'extproc-rate': { type: 'boolean' }, rate: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' } } });
  const rate = Number(values.rate ?? 1000);
  const durationMs = Number(values.seconds ?? 10) * 1000;
  const rounds = Number(values.rounds ?? 3);
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'extproc-rate');
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-extproc-rate-'));
  const targets = await startTargets(dir, { peers: false, variants: ['trace1', 'trace100', 'floor'] });
  const routers = targets.list.filter((t) => t.extProc !== undefined);
  const rows: Round[] = [];
  try {
    let sent = 0;
    // Warm-up, not recorded: JIT, the channel, the exporters' first batches.
    for (const t of routers) await measureOverExtProc(t, Math.min(rate, 500), 2000, -1, (sent += 10_000));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < routers.length; k++) {
        const target = routers[(k + round) % routers.length]!;
        const r = await measureOverExtProc(target, rate, durationMs, round, (sent += 100_000));
        rows.push(r);
        process.stdout.write(
          `round ${round + 1}/${rounds}  ${target.name.padEnd(16)} added p50 ${r.added.p50.toFixed(3)} ms  p99 ${r.added.p99.toFixed(3)} ms  ${r.throughputPerSec.toFixed(0)}/s  refused ${r.refused} failed ${r.failed} dropped ${r.dropped}\n`,
        );
      }
    }
  } finally {
    await targets.stop();
  }
  const f = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(3));
  const byTarget = routers.map((t) => {
    const mine = rows.filter((r) => r.target === t.name);
    const med = (pick: (r: Round) => number) => median(mine.map(pick));
    return {
      target: t.name,
      p50: med((r) => r.added.p50),
      p90: med((r) => r.added.p90),
      p99: med((r) => r.added.p99),
      messageP50s: [0, 1, 2].map((k) => med((r) => r.perMessage[k]!.p50)),
      endP99: med((r) => r.endToEnd.p99),
      throughput: med((r) => r.throughputPerSec),
      lost: mine.reduce((n, r) => n + r.refused + r.failed + r.dropped, 0),
      cpuPer1k: med((r) => r.cpuPer1k),
    };
  });
  const off = byTarget.find((t) => t.target === 'router')!;
  const floorCpu = byTarget.find((t) => t.target === 'router-floor')!.cpuPer1k;
  const label: Readonly<Record<string, string>> = { router: 'tracing off', 'router-trace1': 'tracing, 1% sampled', 'router-trace100': 'tracing, 100% sampled', 'router-floor': 'grpc-js alone, constant replies' };
  const table = [
    `# The router's added latency and CPU at ${rate} requests/s: tracing off, 1% and 100% sampled, and grpc-js alone (the floor), same run`,
    '',
    `Chat with a 1 KB prompt, the shipped filter's three ext_proc messages per request sent straight to the router (no Envoy, no provider), open loop at ${rate}/s for ${durationMs / 1000} s per target and round, ${rounds} round(s), targets in turn; median over rounds. Node ${process.version}, ${availableParallelism()} cores.`,
    '',
    '| router | added p50 ms | p50 per message ms | added p90 ms | added p99 ms | p99 vs off ms | p99 from when due ms | req/s | lost (refused, failed, dropped) | router CPU s per 1,000 | above the floor |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...byTarget.map(
      (t) =>
        `| ${label[t.target] ?? t.target} | ${f(t.p50)} | ${t.messageP50s.map(f).join(' / ')} | ${f(t.p90)} | ${f(t.p99)} | ${t === off ? '–' : `${t.p99 - off.p99 >= 0 ? '+' : ''}${f(t.p99 - off.p99)}`} | ${f(t.endP99)} | ${t.throughput.toFixed(0)} | ${t.lost} | ${f(t.cpuPer1k)} | ${t.target === 'router-floor' ? '–' : f(t.cpuPer1k - floorCpu)} |`,
    ),
    '',
    `"Added" is what Envoy would hold a request for: the sum of the router's reply times to its three messages; "per message" is each one's (request headers / request body / the answer's body). "From when due" adds this process's own lateness in starting it. "grpc-js alone" is bench/grpc-floor.ts: the router's gRPC stack on the same runtime answering each message with a constant reply and doing nothing else, driven the same way; "above the floor" is a router's CPU minus its, the router's own work. Machine load average when done: ${loadavg().map((l) => l.toFixed(1)).join(', ')}.`,
    '',
  ].join('\n');
  await writeResults(out, table, { node: process.version, rate, durationMs, rounds, rows, byTarget });
}

runAsEntryPoint('extproc-rate.js', main);

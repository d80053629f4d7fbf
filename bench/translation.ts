/**
 * npm run bench -- --translation [--rounds N] [--out DIR]
 *
 * What translating costs on the hot path: one router behind one Envoy with four deployments, each
 * on its own strict mock of its provider's API answering 50 chunks 2 ms apart — OpenAI (passed
 * through: the baseline), Anthropic, Gemini and Bedrock (translated both ways, Bedrock signed) —
 * and plain Envoy in front of the OpenAI mock for reference. Each round sends every deployment a
 * batch of chat completions (1 KB prompt, closed loop c=1) and then a batch of streams (c=8),
 * starting with a different deployment each round, so the machine's drift hits all of them alike.
 *
 * Reported per deployment, from all rounds pooled: latency p50 / p99; for streams the first
 * chunk's arrival and the gaps between chunks as the client sees them; the router's CPU time per
 * request (its process CPU across that deployment's batches over their requests). Each figure is
 * compared with the OpenAI passthrough of the same run; no figure is asserted.
 * Results: DIR/results.json and DIR/results.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { closedLoop, type Endpoint, type LoadResult, type Workload } from './load.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { chatBody } from './scenarios.js';
import { distribution, type Distribution } from './stats.js';
import { cpuSeconds, startTargets, type BenchDeployment } from './targets.js';

/** Every mock answers alike, so what differs is the router's work on each format. */
const BEHAVIOUR = { chunks: 50, chunk_interval_ms: 2 };
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
/** The Bedrock mock's own key pair and region (src/mock/behaviour.ts), given to the router. */
const AWS = { AWS_KEY_ID: 'AKIAMOCKBEDROCK', AWS_SECRET: 'mock-bedrock-secret' };
const KEYS = { KEY_OPENAI: 'sk-openai', KEY_ANTHROPIC: 'sk-ant', KEY_GEMINI: 'goog-key' };
/** The credentials the deployments name, for the router's environment. */
export const CREDENTIALS = { ...KEYS, ...AWS };

/** The passthrough first: it is the baseline, and plain Envoy routes to the first deployment. */
const BASELINE = 'openai';
export const DEPLOYMENTS: readonly BenchDeployment[] = [
  { name: BASELINE, mock: { format: 'openai', api_key: KEYS.KEY_OPENAI, behaviour: BEHAVIOUR }, router: { provider: 'openai', provider_model: BASELINE, api_key_env: 'KEY_OPENAI' } },
  { name: 'anthropic', mock: { format: 'anthropic', api_key: KEYS.KEY_ANTHROPIC, behaviour: BEHAVIOUR }, router: { provider: 'anthropic', provider_model: 'claude-sonnet-4-5', api_key_env: 'KEY_ANTHROPIC' } },
  { name: 'gemini', mock: { format: 'gemini', api_key: KEYS.KEY_GEMINI, behaviour: BEHAVIOUR }, router: { provider: 'gemini', provider_model: 'gemini-2.5-flash', api_key_env: 'KEY_GEMINI' } },
  {
    name: 'bedrock',
    mock: { format: 'bedrock', behaviour: BEHAVIOUR },
    router: { provider: 'bedrock', provider_model: BEDROCK_MODEL, aws: { region: 'us-east-1', access_key_id: { env: 'AWS_KEY_ID' }, secret_access_key: { env: 'AWS_SECRET' } } },
  },
];

/** Per round and deployment: chat completions one at a time, then streams eight at a time. */
const JSON_BATCH = { concurrency: 1, requests: 150 };
const STREAM_BATCH = { concurrency: 8, requests: 32 };
/** A bound on one batch on a machine too slow to finish it; the requests served are reported. */
const BATCH_MAX_MS = 30_000;

interface Subject {
  readonly name: string;
  readonly endpoint: Endpoint;
  /** The router's process, whose CPU the subject's batches are charged (none for plain Envoy). */
  readonly routerPid: number | null;
  readonly json: Workload;
  readonly stream: Workload;
}

/** What one subject's batches of one kind added up to over the rounds. */
interface Tally {
  readonly results: LoadResult[];
  cpuSeconds: number;
}

const PLAIN = 'plain Envoy → openai';

export const workloads = (model: string) => ({
  json: { name: `${model} chat-1k`, stream: false, body: chatBody(model, 1000, false), headers: {} },
  stream: { name: `${model} stream-50`, stream: true, body: chatBody(model, 1000, true), headers: {} },
});

/** One batch, with the router's CPU time across it when the subject goes through the router. */
async function batch(s: Subject, kind: 'json' | 'stream', tally: Tally): Promise<void> {
  const shape = kind === 'json' ? JSON_BATCH : STREAM_BATCH;
  const before = s.routerPid === null ? 0 : await cpuSeconds(s.routerPid);
  tally.results.push(await closedLoop(s.endpoint, s[kind], shape.concurrency, BATCH_MAX_MS, shape.requests));
  if (s.routerPid !== null) tally.cpuSeconds += (await cpuSeconds(s.routerPid)) - before;
}

interface Figures {
  readonly requests: number;
  readonly errors: number;
  /** Their statuses (0: no response), when any failed. */
  readonly failedStatuses: readonly number[];
  readonly latencyMs: Distribution;
  /** Streams only. */
  readonly firstChunkMs: Distribution | null;
  readonly gapMs: Distribution | null;
  /** null for plain Envoy. */
  readonly routerCpuUsPerRequest: number | null;
}

function figures(t: Tally, kind: 'json' | 'stream', charged: boolean): Figures {
  const all = <K extends 'latencyMs' | 'firstChunkMs' | 'gapMs'>(k: K) => t.results.flatMap((r) => r[k]);
  const requests = t.results.reduce((n, r) => n + r.ok + r.errors, 0);
  return {
    requests,
    errors: t.results.reduce((n, r) => n + r.errors, 0),
    failedStatuses: [...new Set(t.results.flatMap((r) => r.failures.map((f) => f.status)))].sort(),
    latencyMs: distribution(all('latencyMs')),
    firstChunkMs: kind === 'stream' ? distribution(all('firstChunkMs')) : null,
    gapMs: kind === 'stream' ? distribution(all('gapMs')) : null,
    routerCpuUsPerRequest: charged && requests > 0 ? (t.cpuSeconds * 1e6) / requests : null,
  };
}

const ms = (v: number) => v.toFixed(2);
const plus = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const ratio = (v: number, base: number) => `${(v / base).toFixed(2)}×`;
const served = (f: Figures) => `${f.requests - f.errors}/${f.requests}${f.errors > 0 ? ` (failed: ${f.failedStatuses.join(', ')})` : ''}`;
const cpu = (f: Figures, base: Figures) => (f.routerCpuUsPerRequest === null ? '– | –' : `${f.routerCpuUsPerRequest.toFixed(0)} | ${ratio(f.routerCpuUsPerRequest, base.routerCpuUsPerRequest!)}`);

function jsonTable(rows: ReadonlyArray<[string, Figures]>, base: Figures): string {
  return [
    `| deployment | served | p50 ms | p99 ms | p50 − openai | p50 / openai | p99 / openai | router CPU per request µs | CPU / openai |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([name, f]) => {
      const [l, b] = [f.latencyMs, base.latencyMs];
      return `| ${name} | ${served(f)} | ${ms(l.p50)} | ${ms(l.p99)} | ${plus(l.p50 - b.p50)} | ${ratio(l.p50, b.p50)} | ${ratio(l.p99, b.p99)} | ${cpu(f, base)} |`;
    }),
  ].join('\n');
}

function streamTable(rows: ReadonlyArray<[string, Figures]>, base: Figures): string {
  return [
    `| deployment | served | first chunk p50 / p99 ms | first chunk p50 − openai | gap p50 / p99 ms | gap p99 − openai | gap p99 / openai | whole stream p50 ms | router CPU per stream µs | CPU / openai |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([name, f]) => {
      const [first, gap, bFirst, bGap] = [f.firstChunkMs!, f.gapMs!, base.firstChunkMs!, base.gapMs!];
      return (
        `| ${name} | ${served(f)} | ${ms(first.p50)} / ${ms(first.p99)} | ${plus(first.p50 - bFirst.p50)} | ${ms(gap.p50)} / ${ms(gap.p99)} | ` +
        `${plus(gap.p99 - bGap.p99)} | ${ratio(gap.p99, bGap.p99)} | ${ms(f.latencyMs.p50)} | ${cpu(f, base)} |`
      );
    }),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { translation: { type: 'boolean' }, out: { type: 'string' }, rounds: { type: 'string', default: '8' } } });
  const rounds = Number(values.rounds);
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'translation');
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-translation-'));
  const targets = await startTargets(dir, { peers: false, variants: [], deployments: DEPLOYMENTS, routerEnv: { ...process.env, ...CREDENTIALS } });
  try {
    const plain = targets.list.find((t) => t.name === 'plain')!;
    const subjects: Subject[] = [
      { name: PLAIN, endpoint: plain.endpoint, routerPid: null, ...workloads(BASELINE) },
      ...DEPLOYMENTS.map((d) => ({ name: d.name, endpoint: targets.router.endpoint, routerPid: targets.router.pid, ...workloads(d.name) })),
    ];
    const tallies = new Map(subjects.map((s) => [s.name, { json: { results: [], cpuSeconds: 0 } as Tally, stream: { results: [], cpuSeconds: 0 } as Tally }]));
    // Warm-up (not counted): every path compiled by V8 and every connection open before measuring.
    for (const s of subjects) {
      await closedLoop(s.endpoint, s.json, 4, BATCH_MAX_MS, 200);
      await closedLoop(s.endpoint, s.stream, 4, BATCH_MAX_MS, 16);
    }
    for (let round = 0; round < rounds; round++) {
      const order = subjects.map((_, i) => subjects[(round + i) % subjects.length]!);
      for (const s of order) await batch(s, 'json', tallies.get(s.name)!.json);
      for (const s of order) await batch(s, 'stream', tallies.get(s.name)!.stream);
      process.stdout.write(`round ${round + 1}/${rounds} done\n`);
    }
    const results = subjects.map((s) => {
      const t = tallies.get(s.name)!;
      return { name: s.name, json: figures(t.json, 'json', s.routerPid !== null), stream: figures(t.stream, 'stream', s.routerPid !== null) };
    });
    const base = results.find((r) => r.name === BASELINE)!;
    const md =
      `# Translation on the hot path\n\n` +
      `One router behind one Envoy; deployments on strict mocks of each API, every mock answering 50 chunks ${BEHAVIOUR.chunk_interval_ms} ms apart. ` +
      `${rounds} rounds, the deployments taking turns (a different one first each round); figures pooled over the rounds and compared with the ` +
      `OpenAI passthrough of the same run. Plain Envoy (no router) in front of the OpenAI mock for reference. ` +
      `Router CPU: its process CPU (/proc, 10 ms ticks) across a deployment's batches over their requests.\n\n` +
      `## Chat completions, 1 KB prompt, closed loop c=${JSON_BATCH.concurrency} (${JSON_BATCH.requests} per deployment per round)\n\n` +
      `${jsonTable(results.map((r) => [r.name, r.json]), base.json)}\n\n` +
      `## Streams of 50 chunks, closed loop c=${STREAM_BATCH.concurrency} (${STREAM_BATCH.requests} per deployment per round)\n\n` +
      `${streamTable(results.map((r) => [r.name, r.stream]), base.stream)}\n`;
    await writeResults(out, md, { startedAt: new Date().toISOString(), rounds, behaviour: BEHAVIOUR, jsonBatch: JSON_BATCH, streamBatch: STREAM_BATCH, results });
  } finally {
    await targets.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runAsEntryPoint('translation.js', main);

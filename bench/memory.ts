/**
 * npm run bench -- --memory [--out DIR] [--flags "A;B"] [--rounds N]
 *
 * The router's resident memory: after a mixed warm-up of 30,000 requests (JSON completions of 1 KB
 * and 100 KB prompts, 50-chunk streams), then with 1,000 streams held open at once. Each heap
 * setting (`--flags`, sets of Node flags separated by `;`, an empty set = V8's defaults) runs on its
 * own fresh router behind its own Envoy, so the figures compare; with `--rounds N` every setting
 * runs N times, the settings taking turns, so the machine's drift spreads over all of them.
 *
 * Besides RSS (peaks from the kernel's high-water mark, not sampled), two figures the machine's
 * load cannot move much: the router's CPU time per warm-up request (what a heap setting costs in
 * garbage collection) and V8's heap, from a Node diagnostic report taken at each point.
 * Results: DIR/results.json and DIR/results.md.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { ROUTER_NODE_FLAGS, RUNTIME_ENV } from '../src/devstack/runtime.js';
import { waitUntil } from '../src/devstack/processes.js';
import { closedLoop, holdStreams } from './load.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { OPEN_STREAMS, WORKLOADS } from './scenarios.js';
import { cpuSeconds, peakRssMb, resetPeakRss, rssMb, startTargets } from './targets.js';

/** V8's heap at one point: what it has reserved from the system and what live and dead objects use. */
interface Heap {
  readonly totalMb: number;
  readonly usedMb: number;
}

interface MemoryResult {
  readonly flags: readonly string[];
  readonly round: number;
  readonly requests: number;
  readonly errors: number;
  /** The router's CPU time per warm-up request: what a heap setting costs in garbage collection. */
  readonly cpuUsPerRequest: number;
  readonly startRssMb: number;
  readonly warmUpPeakRssMb: number;
  readonly afterWarmUpRssMb: number;
  readonly afterWarmUpHeap: Heap;
  readonly openStreams: { streams: number; open: number; peakRssMb: number; heap: Heap };
  readonly afterStreamsRssMb: number;
}

/** The mixed warm-up: what a router serves before the streams arrive, 30,000 requests in all. */
const WARM_UP = [
  { workload: WORKLOADS['chat-1k'], concurrency: 32, requests: 20_000 },
  { workload: WORKLOADS['stream-50'], concurrency: 32, requests: 8_000 },
  { workload: WORKLOADS['chat-100k'], concurrency: 8, requests: 2_000 },
] as const;
/** A bound on each part of the warm-up on a machine too slow to finish it; the requests served are reported. */
const WARM_UP_MAX_MS = 180_000;

/** The report flags only make the process write a report on SIGUSR2; they change nothing else. */
const REPORT_SIGNAL = 'SIGUSR2';
const reportFlags = (dir: string) => ['--report-on-signal', `--report-signal=${REPORT_SIGNAL}`, `--report-directory=${dir}`];

/** V8's heap of process `pid`, from the diagnostic report it writes into `dir` when signalled. */
async function heapOf(pid: number, dir: string): Promise<Heap> {
  const reports = async () => (await readdir(dir)).filter((f) => f.startsWith('report.') && f.endsWith('.json'));
  const before = new Set(await reports());
  process.kill(pid, REPORT_SIGNAL);
  let file: string | undefined;
  await waitUntil(async () => (file = (await reports()).find((f) => !before.has(f))) !== undefined, 30_000, () => 'no diagnostic report');
  // Possibly still being written when first listed: read until it parses (waitUntil retries on a throw).
  let heap: { totalMemory: number; usedMemory: number } | undefined;
  await waitUntil(
    async () => (heap = (JSON.parse(await readFile(join(dir, file!), 'utf8')) as { javascriptHeap: typeof heap }).javascriptHeap) !== undefined,
    30_000,
    () => 'unreadable diagnostic report',
  );
  // The report lists the environment: it does not stay on disk.
  await rm(join(dir, file!));
  return { totalMb: heap!.totalMemory / 2 ** 20, usedMb: heap!.usedMemory / 2 ** 20 };
}

async function measureFlags(flags: readonly string[], round: number): Promise<MemoryResult> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-memory-'));
  // Node's heap flags and diagnostic report: this measures the router on Node whatever the default.
  const targets = await startTargets(dir, { peers: false, variants: [], routerNodeFlags: [...flags, ...reportFlags(dir)], routerEnv: { ...process.env, [RUNTIME_ENV]: 'node' } });
  try {
    const pid = targets.router.pid!;
    const startRssMb = await rssMb(pid);
    const cpuBefore = await cpuSeconds(pid);
    let requests = 0;
    let errors = 0;
    for (const w of WARM_UP) {
      const r = await closedLoop(targets.router.endpoint, w.workload, w.concurrency, WARM_UP_MAX_MS, w.requests);
      requests += r.ok + r.errors;
      errors += r.errors;
    }
    const cpuUsPerRequest = (((await cpuSeconds(pid)) - cpuBefore) * 1e6) / requests;
    const warmUpPeakRssMb = await peakRssMb(pid);
    const afterWarmUpRssMb = await rssMb(pid);
    const afterWarmUpHeap = await heapOf(pid, dir);
    await resetPeakRss(pid);
    const held = await holdStreams(targets.router.endpoint, OPEN_STREAMS.workload, OPEN_STREAMS.count);
    const heap = await heapOf(pid, dir);
    const openStreams = { streams: OPEN_STREAMS.count, open: held.open, peakRssMb: await peakRssMb(pid), heap };
    await held.release();
    const afterStreamsRssMb = await rssMb(pid);
    return { flags, round, requests, errors, cpuUsPerRequest, startRssMb, warmUpPeakRssMb, afterWarmUpRssMb, afterWarmUpHeap, openStreams, afterStreamsRssMb };
  } finally {
    await targets.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const name = (flags: readonly string[]) => (flags.length === 0 ? 'V8 defaults' : flags.join(' '));
const mb = (v: number) => v.toFixed(0);
const heap = (h: Heap) => `${mb(h.usedMb)} / ${mb(h.totalMb)}`;

function row(r: MemoryResult): string {
  return (
    `| ${name(r.flags)} | ${r.round + 1} | ${r.requests} (${r.errors} errors) | ${r.cpuUsPerRequest.toFixed(0)} | ${mb(r.startRssMb)} | ${mb(r.warmUpPeakRssMb)} | ${mb(r.afterWarmUpRssMb)} | ${heap(r.afterWarmUpHeap)} | ` +
    `${mb(r.openStreams.peakRssMb)} (${r.openStreams.open}/${r.openStreams.streams} open) | ${heap(r.openStreams.heap)} | ${mb(r.afterStreamsRssMb)} |`
  );
}

const HEADER = [
  '| router heap flags | round | warm-up requests | router CPU per request (µs) | RSS at start (MB) | peak RSS, warm-up (MB) | RSS after warm-up (MB) | V8 heap used / total after warm-up (MB) | peak RSS, 1,000 open streams (MB) | V8 heap used / total, streams open (MB) | RSS after (MB) |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];

/** Per setting, the range over its rounds of the figures a decision rests on. */
function summary(results: readonly MemoryResult[]): string {
  const sets = [...new Map(results.map((r) => [name(r.flags), r.flags])).values()];
  const range = (values: number[]) => {
    const [lo, hi] = [Math.min(...values).toFixed(0), Math.max(...values).toFixed(0)];
    return lo === hi ? lo : `${lo}–${hi}`;
  };
  const rows = sets.map((flags) => {
    const rs = results.filter((r) => name(r.flags) === name(flags));
    return `| ${name(flags)} | ${rs.length} | ${range(rs.map((r) => r.cpuUsPerRequest))} | ${range(rs.map((r) => r.warmUpPeakRssMb))} | ${range(rs.map((r) => r.openStreams.peakRssMb))} | ${range(rs.map((r) => r.openStreams.heap.totalMb))} |`;
  });
  return [
    '| router heap flags | rounds | router CPU per request (µs) | peak RSS, warm-up (MB) | peak RSS, 1,000 open streams (MB) | V8 heap total, streams open (MB) |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { memory: { type: 'boolean' }, out: { type: 'string' }, flags: { type: 'string' }, rounds: { type: 'string', default: '1' } } });
  const sets = values.flags === undefined ? [[], ROUTER_NODE_FLAGS] : values.flags.split(';').map((s) => s.split(' ').filter((f) => f !== ''));
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'memory');
  const results: MemoryResult[] = [];
  process.stdout.write(`${HEADER.join('\n')}\n`);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const flags of sets) {
      const r = await measureFlags(flags, round);
      results.push(r);
      process.stdout.write(`${row(r)}\n`);
    }
  }
  const md =
    `# Router memory\n\n${summary(results)}\n\n${[...HEADER, ...results.map(row)].join('\n')}\n\n` +
    `Shipped flags: \`${ROUTER_NODE_FLAGS.join(' ') || '(none)'}\`; target: ≤ 150 MB with 1,000 open streams.\n`;
  await writeResults(out, md, { startedAt: new Date().toISOString(), results });
}

runAsEntryPoint('memory.js', main);

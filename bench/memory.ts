/**
 * npm run bench -- --memory [--out DIR] [--flags "A;B"]
 *
 * The router's resident memory: after a mixed warm-up (JSON completions of 1 KB and 100 KB prompts,
 * 50-chunk streams), then with 1,000 streams held open at once. Each heap setting (`--flags`, sets
 * of Node flags separated by `;`, an empty set = V8's defaults) runs on its own fresh router behind
 * its own Envoy, so the figures compare. Results: DIR/results.json and DIR/results.md.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { ROUTER_NODE_FLAGS } from '../src/devstack/node-flags.js';
import { closedLoop, type LoadResult } from './load.js';
import { openStreamsMemory } from './run.js';
import { OPEN_STREAMS, WORKLOADS } from './scenarios.js';
import { cpuSeconds, rssMb, startTargets } from './targets.js';

interface MemoryResult {
  readonly flags: readonly string[];
  readonly requests: number;
  readonly errors: number;
  /** The router's CPU time per warm-up request: what a heap setting costs in garbage collection. */
  readonly cpuUsPerRequest: number;
  readonly startRssMb: number;
  readonly afterWarmUpRssMb: number;
  readonly openStreams: { streams: number; ok: number; peakRssMb: number; idleRssMb: number };
  readonly afterStreamsRssMb: number;
}

/** The mixed warm-up: what a router serves before the streams arrive (≈ 30,000 requests here). */
const WARM_UP = [
  { workload: WORKLOADS['chat-1k'], concurrency: 32, durationMs: 10_000 },
  { workload: WORKLOADS['stream-50'], concurrency: 32, durationMs: 8_000 },
  { workload: WORKLOADS['chat-100k'], concurrency: 8, durationMs: 4_000 },
] as const;

async function measureFlags(flags: readonly string[]): Promise<MemoryResult> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-memory-'));
  const targets = await startTargets(dir, { peers: false, variants: [], routerNodeFlags: flags });
  try {
    const pid = targets.router.pid!;
    const startRssMb = await rssMb(pid);
    const cpuBefore = await cpuSeconds(pid);
    let requests = 0;
    let errors = 0;
    for (const w of WARM_UP) {
      const r: LoadResult = await closedLoop(targets.router.endpoint, w.workload, w.concurrency, w.durationMs);
      requests += r.ok + r.errors;
      errors += r.errors;
    }
    const cpuUsPerRequest = ((await cpuSeconds(pid)) - cpuBefore) * 1e6 / requests;
    const afterWarmUpRssMb = await rssMb(pid);
    const openStreams = await openStreamsMemory(targets, OPEN_STREAMS.count);
    const afterStreamsRssMb = await rssMb(pid);
    return { flags, requests, errors, cpuUsPerRequest, startRssMb, afterWarmUpRssMb, openStreams, afterStreamsRssMb };
  } finally {
    await targets.stop();
  }
}

function table(results: readonly MemoryResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.flags.length === 0 ? 'V8 defaults' : r.flags.join(' ')} | ${r.startRssMb.toFixed(0)} | ${r.requests} (${r.errors} errors) | ${r.cpuUsPerRequest.toFixed(0)} | ${r.afterWarmUpRssMb.toFixed(0)} | ` +
      `${r.openStreams.peakRssMb.toFixed(0)} (${r.openStreams.ok}/${r.openStreams.streams} ok) | ${r.afterStreamsRssMb.toFixed(0)} |`,
  );
  return [
    '| router heap flags | RSS at start (MB) | warm-up requests | router CPU per request (µs) | RSS after warm-up (MB) | peak RSS, 1,000 open streams (MB) | RSS after (MB) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { memory: { type: 'boolean' }, out: { type: 'string' }, flags: { type: 'string' } } });
  const sets = values.flags === undefined ? [[], ROUTER_NODE_FLAGS] : values.flags.split(';').map((s) => s.split(' ').filter((f) => f !== ''));
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'memory');
  const results: MemoryResult[] = [];
  for (const flags of sets) {
    const r = await measureFlags(flags);
    results.push(r);
    process.stdout.write(`${table([r]).split('\n')[2]}\n`);
  }
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'results.json'), JSON.stringify({ startedAt: new Date().toISOString(), results }, null, 2));
  const md = `# Router memory\n\n${table(results)}\n\nShipped flags: \`${ROUTER_NODE_FLAGS.join(' ') || '(none)'}\`; target: ≤ 150 MB with 1,000 open streams.\n`;
  await writeFile(join(out, 'results.md'), md);
  process.stdout.write(`\n${md}\nResults in ${out}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

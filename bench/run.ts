/**
 * npm run bench [-- --quick] [-- --out DIR]
 *
 * Every figure for the router is compared with plain Envoy measured in the same run, alternating
 * which goes first each round; a round's added latency is router minus plain, and the report shows
 * the min and median over rounds. Results: DIR/results.json, DIR/results.md (and PNG charts when
 * matplotlib is available).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { closedLoop, concurrentStreams, openLoop, type LoadResult } from './load.js';
import { writeReport, type Measurement, type RunResults } from './report.js';
import { OPEN_STREAMS, scenarioName, scenarios, type Scenario } from './scenarios.js';
import { distribution } from './stats.js';
import { cpuSeconds, rssMb, startTargets, type Targets } from './targets.js';

export async function measure(targets: Targets, s: Scenario, target: 'plain' | 'router', round: number): Promise<Measurement> {
  const port = target === 'plain' ? targets.plainPort : targets.routerPort;
  const pid = targets.router.process.pid!;
  const cpuBefore = await cpuSeconds(pid);
  const r: LoadResult = s.kind === 'closed' ? await closedLoop(port, s.workload, s.concurrency, s.durationMs) : await openLoop(port, s.workload, s.ratePerSec, s.durationMs);
  const routerCpuSec = (await cpuSeconds(pid)) - cpuBefore;
  return {
    scenario: scenarioName(s),
    kind: s.kind,
    workload: s.workload.name,
    concurrency: s.kind === 'closed' ? s.concurrency : null,
    ratePerSec: s.kind === 'open' ? s.ratePerSec : null,
    target,
    round,
    latencyMs: distribution(r.latencyMs),
    ttfbMs: distribution(r.ttfbMs),
    gapMs: distribution(r.gapMs),
    throughputPerSec: r.ok / (r.elapsedMs / 1000),
    ok: r.ok,
    errors: r.errors,
    dropped: r.dropped,
    routerCpuPercent: (routerCpuSec / (r.elapsedMs / 1000)) * 100,
  };
}

export async function openStreamsMemory(targets: Targets, count: number): Promise<RunResults['memory']> {
  const pid = targets.router.process.pid!;
  const idleRssMb = await rssMb(pid);
  let peakRssMb = idleRssMb;
  const sampler = setInterval(() => void rssMb(pid).then((mb) => (peakRssMb = Math.max(peakRssMb, mb))), 100);
  const r = await concurrentStreams(targets.routerPort, OPEN_STREAMS.workload, count);
  clearInterval(sampler);
  return { streams: count, ok: r.ok, peakRssMb, idleRssMb };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, rounds: { type: 'string' } } });
  const quick = values.quick === true;
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', quick ? 'quick' : 'latest');
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-bench-'));
  const targets = await startTargets(dir);
  const started = Date.now();
  const measurements: Measurement[] = [];
  try {
    // Warm up both paths (JIT, connection pools) before anything is recorded.
    for (const port of [targets.plainPort, targets.routerPort]) await closedLoop(port, scenarios(true)[1]!.workload, 16, 1000);
    for (let round = 0; round < rounds; round++) {
      for (const s of scenarios(quick)) {
        const order: Array<'plain' | 'router'> = round % 2 === 0 ? ['plain', 'router'] : ['router', 'plain'];
        for (const target of order) {
          const m = await measure(targets, s, target, round);
          measurements.push(m);
          process.stdout.write(`round ${round + 1}/${rounds}  ${m.scenario.padEnd(28)} ${target.padEnd(6)} p50 ${m.latencyMs.p50.toFixed(2)} ms  p99 ${m.latencyMs.p99.toFixed(2)} ms  ${m.throughputPerSec.toFixed(0)}/s  errors ${m.errors + m.dropped}\n`);
        }
      }
    }
    const memory = await openStreamsMemory(targets, OPEN_STREAMS.count);
    const results: RunResults = { quick, rounds, startedAt: new Date(started).toISOString(), durationSec: (Date.now() - started) / 1000, measurements, memory };
    const table = await writeReport(results, out);
    process.stdout.write(`\n${table}\nResults in ${out}\n`);
  } finally {
    await targets.stop();
  }
}

// Run only as the entry point, so tests can import the pieces.
if (process.argv[1]?.endsWith('run.js')) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

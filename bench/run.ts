/**
 * npm run bench [-- --quick] [--out DIR] [--rounds N] [--no-peers | --peers ai-gateway,portkey] [--variants uds,x2] [--profile]
 *                [--scenarios 'chat-1k open 1000/s,stream-50 closed c=16'] [--no-memory]
 *
 * Every figure for the router is compared with plain Envoy measured in the same run, alternating
 * which goes first each round; a round's added latency is router minus plain, and the report shows
 * the min and median over rounds. Results: DIR/results.json, DIR/results.md (and PNG charts when
 * matplotlib is available). `--profile` runs the router with `--cpu-prof` and adds
 * DIR/flame.png and DIR/profile.md (where its CPU time goes). `--scenarios` measures only the
 * scenarios named (as the report names them), `--no-memory` skips the open-streams memory figure:
 * a focused run, such as one rate with and without tracing, in minutes.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { closedLoop, holdStreams, openLoop, type LoadResult } from './load.js';
import { runAsEntryPoint } from './entry.js';
import { renderCharts, renderFlameGraph, writeReport, type Measurement, type MemoryFigure, type RunResults } from './report.js';
import { PEER_NAMES, type PeerName } from './peers/index.js';
import { OPEN_STREAMS, scenarioName, scenarios, type Scenario } from './scenarios.js';
import { distribution } from './stats.js';
import { cpuSeconds, peakRssMb, resetPeakRss, rssMb, startTargets, VARIANTS, type Target, type VariantName } from './targets.js';

const cpuOf = (pid: number | null): Promise<number> => (pid === null ? Promise.resolve(0) : cpuSeconds(pid));

/** Each target's warm-up on each workload of a full run, closed loop at c=16: long enough for the router's CPU per request to settle. */
const WARM_UP_MS = 10_000;

export async function measure(target: Target, s: Scenario, round: number): Promise<Measurement> {
  const [cpuBefore, envoyCpuBefore] = [await cpuOf(target.pid), await cpuOf(target.envoyPid)];
  const r: LoadResult =
    s.kind === 'closed' ? await closedLoop(target.endpoint, s.workload, s.concurrency, s.durationMs) : await openLoop(target.endpoint, s.workload, s.ratePerSec, s.durationMs);
  const [cpuSec, envoyCpuSec] = [(await cpuOf(target.pid)) - cpuBefore, (await cpuOf(target.envoyPid)) - envoyCpuBefore];
  return {
    scenario: scenarioName(s),
    kind: s.kind,
    workload: s.workload.name,
    concurrency: s.kind === 'closed' ? s.concurrency : null,
    ratePerSec: s.kind === 'open' ? s.ratePerSec : null,
    target: target.name,
    round,
    latencyMs: distribution(r.latencyMs),
    ttfbMs: distribution(r.ttfbMs),
    gapMs: distribution(r.gapMs),
    throughputPerSec: r.ok / (r.elapsedMs / 1000),
    ok: r.ok,
    errors: r.errors,
    dropped: r.dropped,
    gatewayCpuPercent: (cpuSec / (r.elapsedMs / 1000)) * 100,
    gatewayCpuSec: target.pid === null ? null : cpuSec,
    envoyCpuSec: target.envoyPid === null ? null : envoyCpuSec,
  };
}

/** Whether process `pid` still runs (signal 0 only checks). */
function running(pid: number | null): boolean {
  if (pid === null) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why a target's measurement failed: which of its processes is gone, where its output is. */
function whyStopped(target: Target, err: unknown, dir: string): string {
  const gone = [...(running(target.pid) ? [] : [`its ext_proc process (pid ${target.pid})`]), ...(running(target.envoyPid) ? [] : [`its Envoy (pid ${target.envoyPid})`])];
  return `${gone.length > 0 ? `${gone.join(' and ')} exited` : (err as Error).message}; logs in ${dir}`;
}

/** Kept up with the offered rate: at least 90% served, p99 under one second, nothing failed. */
function sustained(m: Measurement, ratePerSec: number): boolean {
  return m.throughputPerSec >= 0.9 * ratePerSec && m.latencyMs.p99 < 1000 && m.errors + m.dropped === 0;
}

/** A router's RSS before and while `count` streams are open at once (`ok` of them opened); then they are cut. */
export async function openStreamsMemory(router: Target, count: number): Promise<MemoryFigure> {
  const pid = router.pid!;
  const idleRssMb = await rssMb(pid);
  await resetPeakRss(pid);
  const held = await holdStreams(router.endpoint, OPEN_STREAMS.workload, count);
  const peak = await peakRssMb(pid);
  await held.release();
  return { streams: count, ok: held.open, peakRssMb: peak, idleRssMb };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      rounds: { type: 'string' },
      'no-peers': { type: 'boolean', default: false },
      peers: { type: 'string' },
      variants: { type: 'string', default: '' },
      profile: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'no-memory': { type: 'boolean', default: false },
    },
  });
  const variants = values.variants.split(',').filter((v) => v !== '') as VariantName[];
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const peers = values.peers === undefined ? values['no-peers'] !== true : (values.peers.split(',').filter((p) => p !== '') as PeerName[]);
  if (Array.isArray(peers)) for (const p of peers) if (!PEER_NAMES.includes(p)) throw new Error(`unknown peer ${p}; known: ${PEER_NAMES.join(', ')}`);
  const quick = values.quick === true;
  const only = values.scenarios?.split(',').map((n) => n.trim());
  const run = only === undefined ? scenarios(quick) : scenarios(quick).filter((s) => only.includes(scenarioName(s)));
  if (only !== undefined && run.length !== only.length) {
    throw new Error(`unknown scenario in --scenarios; known: ${scenarios(quick).map(scenarioName).join(', ')}`);
  }
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', quick ? 'quick' : 'latest');
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-bench-'));
  const profileDir = values.profile === true ? join(dir, 'profile') : undefined;
  const targets = await startTargets(dir, { peers, variants, profileDir });
  for (const u of targets.unavailable) process.stdout.write(`${u.name}: not measured (${u.error})\n`);
  const started = Date.now();
  const measurements: Measurement[] = [];
  try {
    // Warm up every target on every workload of the run (JIT, connection pools, the router's usage
    // log filling) before anything is recorded: a router serves for days, and its first seconds
    // cost 30–50% more CPU per request than the rest (docs/decisions.md, "Warm-up before measuring").
    const workloads = [...new Set(run.map((s) => s.workload))];
    for (const t of targets.list) for (const w of workloads) await closedLoop(t.endpoint, w, 16, quick ? 1000 : WARM_UP_MS);
    // A target that could not sustain an open-loop rate is not driven at higher rates of the same
    // workload: it would only queue requests for minutes. Absent points show as "–" in the report.
    const saturatedAt = new Map<string, number>();
    // A target whose process dies (a peer's Envoy has crashed under load) is reported with where it
    // stopped; the run goes on with the others.
    const stopped = new Map<string, { name: string; scenario: string; round: number; error: string }>();
    for (let round = 0; round < rounds; round++) {
      for (const s of run) {
        // Each round starts with another target, so drift in the machine's load spreads evenly.
        const n = targets.list.length;
        for (let i = 0; i < n; i++) {
          const target = targets.list[(i + round) % n]!;
          const key = `${target.name} ${s.workload.name}`;
          if (s.kind === 'open' && s.ratePerSec > (saturatedAt.get(key) ?? Infinity)) continue;
          if (stopped.has(target.name)) continue;
          let m: Measurement;
          try {
            m = await measure(target, s, round);
          } catch (err) {
            if (target === targets.router || target.name === 'plain') throw err;
            const error = whyStopped(target, err, dir);
            stopped.set(target.name, { name: target.name, scenario: scenarioName(s), round: round + 1, error });
            process.stdout.write(`round ${round + 1}/${rounds}  ${scenarioName(s).padEnd(28)} ${target.name.padEnd(8)} stopped: ${error}\n`);
            continue;
          }
          if (s.kind === 'open' && !sustained(m, s.ratePerSec)) saturatedAt.set(key, Math.min(s.ratePerSec, saturatedAt.get(key) ?? Infinity));
          measurements.push(m);
          process.stdout.write(`round ${round + 1}/${rounds}  ${m.scenario.padEnd(28)} ${target.name.padEnd(8)} p50 ${m.latencyMs.p50.toFixed(2)} ms  p99 ${m.latencyMs.p99.toFixed(2)} ms  ${m.throughputPerSec.toFixed(0)}/s  errors ${m.errors + m.dropped}\n`);
        }
      }
    }
    const memory = values['no-memory'] === true ? null : await openStreamsMemory(targets.router, OPEN_STREAMS.count);
    // The same figure for the router on the other runtime, which the image and the chart can run instead.
    const runtimeMemory: Array<{ name: string } & MemoryFigure> = [];
    if (memory !== null) {
      for (const target of targets.list.filter((t) => variants.some((v) => VARIANTS[v].onNode && t.name === `router-${v}`))) {
        runtimeMemory.push({ name: target.name, ...(await openStreamsMemory(target, OPEN_STREAMS.count)) });
      }
    }
    const results: RunResults = {
      quick,
      rounds,
      startedAt: new Date(started).toISOString(),
      durationSec: (Date.now() - started) / 1000,
      measurements,
      memory,
      runtimeMemory,
      unavailable: targets.unavailable,
      stopped: [...stopped.values()],
    };
    const table = await writeReport(results, out);
    process.stdout.write(`\n${table}\n${renderCharts(out)}\n`);
  } finally {
    await targets.stop();
  }
  // The profile is written when the router exits, so only after the targets have stopped.
  if (profileDir !== undefined) {
    const profile = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
    process.stdout.write(`${profile === undefined ? `no CPU profile in ${profileDir}` : renderFlameGraph(join(profileDir, profile), out)}\n`);
  }
  process.stdout.write(`Results in ${out}\n`);
}

runAsEntryPoint('run.js', main);

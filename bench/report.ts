/** Turns measurements into added-latency and ratio figures against plain Envoy, and writes them out. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, resolveEnvoy } from '../src/devstack/binaries.js';
import { routerRuntimeName } from './runtimes.js';
import { median, min, type Distribution } from './stats.js';

export interface Measurement {
  readonly scenario: string;
  readonly kind: 'closed' | 'open';
  readonly workload: string;
  readonly concurrency: number | null;
  readonly ratePerSec: number | null;
  /** plain, router, or a peer's name. */
  readonly target: string;
  readonly round: number;
  readonly latencyMs: Distribution;
  readonly ttfbMs: Distribution;
  readonly gapMs: Distribution;
  readonly throughputPerSec: number;
  readonly ok: number;
  readonly errors: number;
  readonly dropped: number;
  /** CPU of the gateway process (router, Portkey, LiteLLM, AI Gateway's extproc; not Envoy), % of one core. */
  readonly gatewayCpuPercent: number;
  /** CPU seconds (user + system, from /proc) the gateway process and the Envoy in front of it used during the measurement; null where there is none. */
  readonly gatewayCpuSec: number | null;
  readonly envoyCpuSec: number | null;
}

/** A router's RSS before (`idleRssMb`) and while `streams` streams were held open, `ok` of them opened. */
export interface MemoryFigure {
  readonly streams: number;
  readonly ok: number;
  readonly peakRssMb: number;
  readonly idleRssMb: number;
}

export interface RunResults {
  readonly quick: boolean;
  readonly rounds: number;
  readonly startedAt: string;
  readonly durationSec: number;
  readonly measurements: readonly Measurement[];
  /** Null when the run skipped it (`--no-memory`). */
  readonly memory: MemoryFigure | null;
  /** The same for the router on another runtime (`--variants node`). Absent in older results. */
  readonly runtimeMemory?: ReadonlyArray<{ name: string } & MemoryFigure>;
  readonly unavailable: ReadonlyArray<{ name: string; error: string }>;
  /** Targets that stopped during the run (a process exited): measured up to `scenario` of `round`, not after. Absent in older results. */
  readonly stopped?: ReadonlyArray<{ name: string; scenario: string; round: number; error: string }>;
}

interface Spread {
  readonly min: number;
  readonly median: number;
}

/** One target in one scenario, against plain Envoy in the same rounds. */
export interface TargetSummary {
  readonly p50: number;
  readonly p99: number;
  readonly throughput: number;
  readonly cpuPercent: number;
  readonly failures: number;
  /** Target minus plain Envoy, per round; min and median over rounds (ms). */
  readonly addedP50: Spread;
  readonly addedP99: Spread;
  readonly addedTtfbP50: Spread;
  readonly addedGapP99: Spread;
  readonly throughputRatio: number;
  /** CPU seconds per 1,000 requests served (median over rounds): the gateway process and its Envoy; null where there is none. */
  readonly gatewayCpuPer1k: number | null;
  readonly envoyCpuPer1k: number | null;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly workload: string;
  readonly kind: 'closed' | 'open';
  readonly concurrency: number | null;
  readonly ratePerSec: number | null;
  readonly targets: Readonly<Record<string, TargetSummary>>;
}

function spread(values: number[]): Spread {
  return { min: min(values), median: median(values) };
}

/** Median over rounds of a process's CPU seconds per 1,000 requests served; null when it was not measured (older results too). */
function perThousand(own: readonly Measurement[], cpu: (m: Measurement) => number | null | undefined): number | null {
  const values = own.flatMap((m) => {
    const sec = cpu(m);
    return sec === null || sec === undefined || m.ok === 0 ? [] : [(sec / m.ok) * 1000];
  });
  return values.length === 0 ? null : median(values);
}

export function summarise(measurements: readonly Measurement[]): ScenarioSummary[] {
  const names = [...new Set(measurements.map((m) => m.scenario))];
  return names.map((scenario) => {
    const ms = measurements.filter((m) => m.scenario === scenario);
    const plainBy = new Map(ms.filter((m) => m.target === 'plain').map((m) => [m.round, m]));
    const targets: Record<string, TargetSummary> = {};
    for (const target of [...new Set(ms.map((m) => m.target))]) {
      const own = ms.filter((m) => m.target === target);
      const pairs = own.filter((m) => plainBy.has(m.round)).map((m) => [plainBy.get(m.round)!, m] as const);
      const delta = (pick: (m: Measurement) => number) => spread(pairs.map(([plain, m]) => pick(m) - pick(plain)));
      targets[target] = {
        p50: median(own.map((m) => m.latencyMs.p50)),
        p99: median(own.map((m) => m.latencyMs.p99)),
        throughput: median(own.map((m) => m.throughputPerSec)),
        cpuPercent: median(own.map((m) => m.gatewayCpuPercent)),
        failures: own.reduce((n, m) => n + m.errors + m.dropped, 0),
        addedP50: delta((m) => m.latencyMs.p50),
        addedP99: delta((m) => m.latencyMs.p99),
        addedTtfbP50: delta((m) => m.ttfbMs.p50),
        addedGapP99: delta((m) => m.gapMs.p99),
        throughputRatio: median(pairs.map(([plain, m]) => m.throughputPerSec / plain.throughputPerSec)),
        gatewayCpuPer1k: perThousand(own, (m) => m.gatewayCpuSec),
        envoyCpuPer1k: perThousand(own, (m) => m.envoyCpuSec),
      };
    }
    const first = ms[0]!;
    return { scenario, workload: first.workload, kind: first.kind, concurrency: first.concurrency, ratePerSec: first.ratePerSec, targets };
  });
}

export interface TargetCheck {
  readonly target: string;
  readonly limit: string;
  readonly measured: string;
  readonly met: boolean | null;
}

const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The peers compared with the router: every point where the peer served without failures. */
function peerChecks(summaries: readonly ScenarioSummary[], results: RunResults): TargetCheck[] {
  // Peers only: plain Envoy is the baseline and router-* are set-ups of the router itself.
  const peers = [...new Set(results.measurements.map((m) => m.target))].filter((t) => t !== 'plain' && t !== 'router' && !t.startsWith('router-'));
  const checks: TargetCheck[] = results.unavailable.map((u) => ({ target: `router vs ${u.name}`, limit: 'lower added latency, higher throughput', measured: `${u.name} not measured: ${u.error}`, met: null }));
  for (const s of results.stopped ?? []) {
    checks.push({ target: `router vs ${s.name}`, limit: 'lower added latency, higher throughput', measured: `${s.name} stopped during ${s.scenario} in round ${s.round} (${s.error}): no points from there on`, met: null });
  }
  for (const peer of peers) {
    const losses: string[] = [];
    let points = 0;
    for (const s of summaries) {
      const r = s.targets.router;
      const p = s.targets[peer];
      if (r === undefined || p === undefined || p.failures > 0) continue;
      points++;
      if (r.addedP50.median >= p.addedP50.median || r.addedP99.median >= p.addedP99.median) losses.push(s.scenario);
    }
    const sat = summaries.find((s) => s.scenario === 'chat-1k closed c=64');
    const satRouter = sat?.targets.router?.throughput ?? 0;
    const satPeer = sat?.targets[peer]?.throughput ?? 0;
    checks.push({
      target: `router vs ${peer}: added p50 and p99 lower at every point ${peer} sustains`,
      limit: 'every point',
      measured: losses.length === 0 ? `lower at all ${points} points` : `not lower at ${losses.length} of ${points}: ${losses.join(', ')}`,
      met: points > 0 && losses.length === 0,
    });
    checks.push({
      target: `router vs ${peer}: saturation throughput (chat 1 KB, closed c=64)`,
      limit: 'higher',
      measured: `${satRouter.toFixed(0)}/s vs ${satPeer.toFixed(0)}/s`,
      met: satRouter > satPeer,
    });
  }
  return checks;
}

/**
 * The router's ext_proc CPU per 1,000 requests against AI Gateway's extproc, in the same run (issue
 * 13's acceptance); the router on Node too when the run has that variant (`--variants node`).
 */
function extProcCpuChecks(summaries: readonly ScenarioSummary[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const [name, label] of [
    ['router', 'router'],
    ['router-node', 'router on Node'],
  ] as const) {
    for (const scenario of ['chat-1k closed c=16', 'chat-1k closed c=64', 'stream-50 closed c=16']) {
      const s = summaries.find((x) => x.scenario === scenario);
      const router = s?.targets[name]?.gatewayCpuPer1k;
      const peer = s?.targets['ai-gateway']?.gatewayCpuPer1k;
      if (router === null || router === undefined || peer === null || peer === undefined) continue;
      checks.push({ target: `${label} ext_proc CPU per 1,000 requests, ${scenario}`, limit: `≤ AI Gateway's`, measured: `${router.toFixed(2)} s vs ${peer.toFixed(2)} s`, met: router <= peer });
    }
  }
  return checks;
}

export function checkTargets(summaries: readonly ScenarioSummary[], results: RunResults): TargetCheck[] {
  const router = (name: string) => summaries.find((s) => s.scenario === name)?.targets.router;
  const memory = results.memory;
  const checks: TargetCheck[] = [];
  for (const rate of [200, 1000]) {
    const s = router(`chat-1k open ${rate}/s`);
    if (s === undefined) continue;
    checks.push({ target: `added p50, chat 1 KB, open ${rate}/s`, limit: '≤ 0.5 ms', measured: ms(s.addedP50.median), met: s.addedP50.median <= 0.5 });
    checks.push({ target: `added p99, chat 1 KB, open ${rate}/s`, limit: '≤ 2 ms', measured: ms(s.addedP99.median), met: s.addedP99.median <= 2 });
  }
  const fast = router('chat-1k open 1000/s');
  if (fast !== undefined) {
    checks.push({ target: 'chat 1 KB, open 1000/s: failures and added p99', limit: '0, ≤ 5 ms', measured: `${fast.failures}, ${ms(fast.addedP99.median)}`, met: fast.failures === 0 && fast.addedP99.median <= 5 });
  }
  const stream = router('stream-50 open 200/s');
  if (stream !== undefined) {
    checks.push({ target: 'added TTFB p50, stream, open 200/s', limit: '≤ 1 ms', measured: ms(stream.addedTtfbP50.median), met: stream.addedTtfbP50.median <= 1 });
    checks.push({ target: 'added inter-chunk gap p99, stream, open 200/s', limit: '≤ 0.2 ms', measured: ms(stream.addedGapP99.median), met: stream.addedGapP99.median <= 0.2 });
  }
  const saturation = router('chat-1k closed c=64');
  if (saturation !== undefined) {
    checks.push({ target: 'saturation throughput (chat 1 KB, closed c=64) vs plain Envoy', limit: '≥ 60%', measured: `${(saturation.throughputRatio * 100).toFixed(0)}%`, met: saturation.throughputRatio >= 0.6 });
  }
  checks.push(...extProcCpuChecks(summaries));
  const memories = memory === null ? [] : [{ name: 'router', ...memory }, ...(results.runtimeMemory ?? [])];
  for (const m of memories) {
    checks.push({ target: `${m.name} RSS with ${m.streams} open streams`, limit: '≤ 150 MB', measured: `${m.peakRssMb.toFixed(0)} MB (before: ${m.idleRssMb.toFixed(0)} MB)`, met: m.peakRssMb <= 150 && m.ok === m.streams });
  }

  return [...checks, ...peerChecks(summaries, results)];
}

/** Highest open-loop rate at which p99 stayed under 50 ms with no failure, per target. */
export function maxRateUnder50ms(measurements: readonly Measurement[], target: string): number | null {
  const rates = measurements.filter((m) => m.kind === 'open' && m.workload === 'chat-1k' && m.target === target);
  const good = [...new Set(rates.map((m) => m.ratePerSec!))].filter((rate) => {
    const at = rates.filter((m) => m.ratePerSec === rate);
    return median(at.map((m) => m.latencyMs.p99)) < 50 && at.every((m) => m.errors + m.dropped === 0);
  });
  return good.length === 0 ? null : Math.max(...good);
}

function machine(): Record<string, string> {
  let envoy = 'unknown';
  try {
    envoy = /\/(\d+\.\d+\.\d+)\//.exec(execFileSync(resolveEnvoy(), ['--version'], { encoding: 'utf8' }))?.[1] ?? envoy;
  } catch {
    // reported as unknown
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return { cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`, memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`, kernel: release(), node: process.version, router: routerRuntimeName(), envoy, commit };
}

export function renderMarkdown(results: RunResults, summaries: readonly ScenarioSummary[], checks: readonly TargetCheck[], host: Record<string, string>): string {
  const f = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : '–');
  const gateways = [...new Set(results.measurements.map((m) => m.target))].filter((t) => t !== 'plain');
  const cell = (t: TargetSummary | undefined, value: (t: TargetSummary) => string) => (t === undefined ? '–' : `${value(t)}${t.failures > 0 ? ` (${t.failures} failed)` : ''}`);
  const lines = [
    `Run ${results.startedAt}, ${results.quick ? 'quick' : 'full'}, ${results.rounds} round(s), ${results.durationSec.toFixed(0)} s. Machine: ${Object.entries(host).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    '| target | limit | measured | met |',
    '|---|---|---|---|',
    ...checks.map((c) => `| ${c.target} | ${c.limit} | ${c.measured} | ${c.met === null ? 'not measured' : c.met ? 'yes' : '**no**'} |`),
    '',
    `Max open-loop rate with p99 < 50 ms and no failure (chat 1 KB): ${['plain', ...gateways].map((t) => `${t} ${maxRateUnder50ms(results.measurements, t) ?? '–'}/s`).join(', ')} (highest rate tried: ${Math.max(...results.measurements.filter((m) => m.kind === 'open').map((m) => m.ratePerSec ?? 0))}/s).`,
    '',
    'Added latency = the gateway\'s percentile minus plain Envoy\'s in the same round (median over rounds), in ms.',
    '',
    `| scenario | plain p50 / p99 | ${gateways.map((g) => `${g} added p50 / p99`).join(' | ')} | router TTFB / gap p99 added | ${gateways.map((g) => `${g} throughput vs plain`).join(' | ')} | router CPU |`,
    `|---|---|${gateways.map(() => '---|').join('')}---|${gateways.map(() => '---|').join('')}---|`,
    ...summaries.map((s) => {
      const plain = s.targets.plain;
      const r = s.targets.router;
      return `| ${s.scenario} | ${f(plain?.p50)} / ${f(plain?.p99)} | ${gateways.map((g) => cell(s.targets[g], (t) => `${f(t.addedP50.median)} / ${f(t.addedP99.median)}`)).join(' | ')} | ${f(r?.addedTtfbP50.median)} / ${s.workload.startsWith('stream') ? f(r?.addedGapP99.median) : '–'} | ${gateways.map((g) => cell(s.targets[g], (t) => `${(t.throughputRatio * 100).toFixed(0)}% (${t.throughput.toFixed(0)}/s)`)).join(' | ')} | ${r === undefined ? '–' : `${r.cpuPercent.toFixed(0)}%`} |`;
    }),
  ];
  const withCpu = ['plain', ...gateways].filter((g) => summaries.some((s) => s.targets[g]?.gatewayCpuPer1k != null || s.targets[g]?.envoyCpuPer1k != null));
  if (withCpu.length > 0) {
    const cpu = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));
    lines.push(
      '',
      'CPU seconds per 1,000 requests served (user + system from /proc, median over rounds): the gateway process (ext_proc server or proxy) / its Envoy.',
      '',
      `| scenario | ${withCpu.map((g) => (g === 'plain' ? 'plain Envoy' : `${g} / its Envoy`)).join(' | ')} |`,
      `|---|${withCpu.map(() => '---|').join('')}`,
      ...summaries.map((s) => `| ${s.scenario} | ${withCpu.map((g) => { const t = s.targets[g]; return t === undefined ? '–' : g === 'plain' ? cpu(t.envoyCpuPer1k) : `${cpu(t.gatewayCpuPer1k)} / ${cpu(t.envoyCpuPer1k)}`; }).join(' | ')} |`),
    );
  }
  return lines.join('\n') + '\n';
}

/** Writes results.json and results.md (and charts when possible); returns the markdown. */
export async function writeReport(results: RunResults, out: string): Promise<string> {
  await mkdir(out, { recursive: true });
  const summaries = summarise(results.measurements);
  const checks = checkTargets(summaries, results);
  const host = machine();
  const markdown = renderMarkdown(results, summaries, checks, host);
  await writeFile(join(out, 'results.json'), JSON.stringify({ machine: host, ...results, summaries, targets: checks }, null, 2));
  await writeFile(join(out, 'results.md'), markdown);
  return markdown;
}

/**
 * PNG charts through bench/charts.py. matplotlib is installed into bench/.tools/python on first
 * use; without Python or the package, the run still has its JSON and markdown.
 */
/** Runs a Python script of bench/ with matplotlib (installed into bench/.tools/python on first use). */
function runPython(script: string, args: readonly string[]): string {
  const python = process.env.PYTHON ?? 'python3';
  const site = join(PROJECT_ROOT, 'bench', '.tools', 'python');
  const env = { ...process.env, PYTHONPATH: site };
  const has = spawnSync(python, ['-c', 'import matplotlib'], { env });
  if (has.status !== 0) {
    const pip = spawnSync(python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--target', site, 'matplotlib'], { stdio: 'inherit' });
    if (pip.status !== 0) return `${script} skipped: matplotlib could not be installed`;
  }
  const r = spawnSync(python, [join(PROJECT_ROOT, 'bench', script), ...args], { env, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `${script} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`;
}

export function renderCharts(out: string): string {
  return runPython('charts.py', [out]);
}

/** A flame graph (PNG) and the top functions by own time (markdown) from a `--cpu-prof` profile. */
export function renderFlameGraph(profile: string, out: string): string {
  return runPython('flame.py', [profile, out]);
}

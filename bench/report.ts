/** Turns measurements into added-latency and ratio figures against plain Envoy, and writes them out. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { resolveEnvoy } from '../src/devstack/binaries.js';
import { median, min, type Distribution } from './stats.js';

export interface Measurement {
  readonly scenario: string;
  readonly kind: 'closed' | 'open';
  readonly workload: string;
  readonly concurrency: number | null;
  readonly ratePerSec: number | null;
  readonly target: 'plain' | 'router';
  readonly round: number;
  readonly latencyMs: Distribution;
  readonly ttfbMs: Distribution;
  readonly gapMs: Distribution;
  readonly throughputPerSec: number;
  readonly ok: number;
  readonly errors: number;
  readonly dropped: number;
  /** CPU the router process used during the measurement, % of one core. */
  readonly routerCpuPercent: number;
}

export interface RunResults {
  readonly quick: boolean;
  readonly rounds: number;
  readonly startedAt: string;
  readonly durationSec: number;
  readonly measurements: readonly Measurement[];
  readonly memory: { streams: number; ok: number; peakRssMb: number; idleRssMb: number };
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly workload: string;
  readonly kind: 'closed' | 'open';
  readonly concurrency: number | null;
  readonly ratePerSec: number | null;
  readonly plain: { p50: number; p99: number; throughput: number };
  readonly router: { p50: number; p99: number; throughput: number; cpuPercent: number };
  /** Router minus plain, per round; min and median over rounds (ms). */
  readonly addedP50: { min: number; median: number };
  readonly addedP99: { min: number; median: number };
  readonly addedTtfbP50: { min: number; median: number };
  readonly addedGapP99: { min: number; median: number };
  readonly throughputRatio: number;
  readonly failures: number;
}

function added(pairs: Array<[Measurement, Measurement]>, pick: (m: Measurement) => number): { min: number; median: number } {
  const deltas = pairs.map(([plain, router]) => pick(router) - pick(plain));
  return { min: min(deltas), median: median(deltas) };
}

export function summarise(measurements: readonly Measurement[]): ScenarioSummary[] {
  const names = [...new Set(measurements.map((m) => m.scenario))];
  return names.map((scenario) => {
    const ms = measurements.filter((m) => m.scenario === scenario);
    const rounds = [...new Set(ms.map((m) => m.round))];
    const pairs = rounds.map((r) => [ms.find((m) => m.round === r && m.target === 'plain')!, ms.find((m) => m.round === r && m.target === 'router')!] as [Measurement, Measurement]);
    const of = (target: 'plain' | 'router', pick: (m: Measurement) => number) => median(ms.filter((m) => m.target === target).map(pick));
    const first = ms[0]!;
    return {
      scenario,
      workload: first.workload,
      kind: first.kind,
      concurrency: first.concurrency,
      ratePerSec: first.ratePerSec,
      plain: { p50: of('plain', (m) => m.latencyMs.p50), p99: of('plain', (m) => m.latencyMs.p99), throughput: of('plain', (m) => m.throughputPerSec) },
      router: {
        p50: of('router', (m) => m.latencyMs.p50),
        p99: of('router', (m) => m.latencyMs.p99),
        throughput: of('router', (m) => m.throughputPerSec),
        cpuPercent: of('router', (m) => m.routerCpuPercent),
      },
      addedP50: added(pairs, (m) => m.latencyMs.p50),
      addedP99: added(pairs, (m) => m.latencyMs.p99),
      addedTtfbP50: added(pairs, (m) => m.ttfbMs.p50),
      addedGapP99: added(pairs, (m) => m.gapMs.p99),
      throughputRatio: median(pairs.map(([plain, router]) => router.throughputPerSec / plain.throughputPerSec)),
      failures: ms.reduce((n, m) => n + m.errors + m.dropped, 0),
    };
  });
}

export interface TargetCheck {
  readonly target: string;
  readonly limit: string;
  readonly measured: string;
  readonly met: boolean | null;
}

const ms = (v: number) => `${v.toFixed(2)} ms`;

export function checkTargets(summaries: readonly ScenarioSummary[], memory: RunResults['memory']): TargetCheck[] {
  const find = (name: string) => summaries.find((s) => s.scenario === name);
  const checks: TargetCheck[] = [];
  for (const rate of [200, 1000]) {
    const s = find(`chat-1k open ${rate}/s`);
    if (s === undefined) continue;
    checks.push({ target: `added p50, chat 1 KB, open ${rate}/s`, limit: '≤ 0.5 ms', measured: ms(s.addedP50.median), met: s.addedP50.median <= 0.5 });
    checks.push({ target: `added p99, chat 1 KB, open ${rate}/s`, limit: '≤ 2 ms', measured: ms(s.addedP99.median), met: s.addedP99.median <= 2 });
  }
  const stream = find('stream-50 open 200/s');
  if (stream !== undefined) {
    checks.push({ target: 'added TTFB p50, stream, open 200/s', limit: '≤ 1 ms', measured: ms(stream.addedTtfbP50.median), met: stream.addedTtfbP50.median <= 1 });
    checks.push({ target: 'added inter-chunk gap p99, stream, open 200/s', limit: '≤ 0.2 ms', measured: ms(stream.addedGapP99.median), met: stream.addedGapP99.median <= 0.2 });
  }
  const saturation = find('chat-1k closed c=64');
  if (saturation !== undefined) {
    checks.push({ target: 'saturation throughput (chat 1 KB, closed c=64) vs plain Envoy', limit: '≥ 50%', measured: `${(saturation.throughputRatio * 100).toFixed(0)}%`, met: saturation.throughputRatio >= 0.5 });
  }
  checks.push({ target: `router RSS with ${memory.streams} open streams`, limit: '≤ 150 MB', measured: `${memory.peakRssMb.toFixed(0)} MB (idle ${memory.idleRssMb.toFixed(0)} MB)`, met: memory.peakRssMb <= 150 && memory.ok === memory.streams });
  checks.push({ target: 'lower added latency and higher throughput than Portkey and LiteLLM', limit: 'at every point', measured: 'peers not yet in the harness', met: null });
  return checks;
}

/** Highest open-loop rate at which p99 stayed under 50 ms with no failure, per target. */
export function maxRateUnder50ms(measurements: readonly Measurement[], target: 'plain' | 'router'): number | null {
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
  return { cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`, memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`, kernel: release(), node: process.version, envoy };
}

export function renderMarkdown(results: RunResults, summaries: readonly ScenarioSummary[], checks: readonly TargetCheck[], host: Record<string, string>): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
  const lines = [
    `Run ${results.startedAt}, ${results.quick ? 'quick' : 'full'}, ${results.rounds} round(s), ${results.durationSec.toFixed(0)} s. Machine: ${Object.entries(host).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    '| target | limit | measured | met |',
    '|---|---|---|---|',
    ...checks.map((c) => `| ${c.target} | ${c.limit} | ${c.measured} | ${c.met === null ? 'not measured' : c.met ? 'yes' : '**no**'} |`),
    '',
    `Max open-loop rate with p99 < 50 ms (chat 1 KB): plain Envoy ${maxRateUnder50ms(results.measurements, 'plain') ?? '–'}/s, router ${maxRateUnder50ms(results.measurements, 'router') ?? '–'}/s (highest rate tried: ${Math.max(...results.measurements.filter((m) => m.kind === 'open').map((m) => m.ratePerSec ?? 0))}/s).`,
    '',
    '| scenario | plain p50 / p99 ms | router p50 / p99 ms | added p50 ms (min / med) | added p99 ms (min / med) | added TTFB p50 ms | added gap p99 ms | throughput vs plain | router CPU | failures |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...summaries.map(
      (s) =>
        `| ${s.scenario} | ${f(s.plain.p50)} / ${f(s.plain.p99)} | ${f(s.router.p50)} / ${f(s.router.p99)} | ${f(s.addedP50.min)} / ${f(s.addedP50.median)} | ${f(s.addedP99.min)} / ${f(s.addedP99.median)} | ${f(s.addedTtfbP50.median)} | ${s.workload.startsWith('stream') ? f(s.addedGapP99.median) : '–'} | ${(s.throughputRatio * 100).toFixed(0)}% (${s.router.throughput.toFixed(0)}/s) | ${s.router.cpuPercent.toFixed(0)}% | ${s.failures} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}

/** Writes results.json and results.md (and charts when possible); returns the markdown. */
export async function writeReport(results: RunResults, out: string): Promise<string> {
  await mkdir(out, { recursive: true });
  const summaries = summarise(results.measurements);
  const checks = checkTargets(summaries, results.memory);
  const host = machine();
  const markdown = renderMarkdown(results, summaries, checks, host);
  await writeFile(join(out, 'results.json'), JSON.stringify({ machine: host, ...results, summaries, targets: checks }, null, 2));
  await writeFile(join(out, 'results.md'), markdown);
  return markdown;
}

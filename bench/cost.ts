/**
 * npm run bench -- --cost [--runs N] [--out DIR]
 *
 * The router's cost per request as a count of instructions, which the machine's load does not move
 * the way it moves latency and CPU time: the router runs under valgrind's callgrind with
 * instrumentation off (startup and warm-up at valgrind's base speed, so V8 has optimised the hot
 * path as it would natively), then counts every instruction its threads execute (user space) while
 * a fixed workload goes through Envoy: chat completions with a 1 KB prompt, one at a time, and
 * streams of 50 chunks, one at a time. Hardware counters (`perf stat -e instructions`) would be
 * cheaper, but virtual machines like this one often do not expose them (docs/decisions.md).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { closedLoop, type Workload } from './load.js';
import { NEVER_SHED } from './overload.js';
import { WORKLOADS } from './scenarios.js';
import { median } from './stats.js';
import { startTargets, type Target } from './targets.js';

/** Each workload: requests sent (uncounted) to warm up, then counted. Enough for V8 to settle; few enough for a minute. */
const WORKLOAD_PLAN: ReadonlyArray<{ workload: Workload; warmUp: number; counted: number }> = [
  { workload: WORKLOADS['chat-1k'], warmUp: 300, counted: 20 },
  { workload: WORKLOADS['stream-50'], warmUp: 30, counted: 2 },
];

/** Requests sent after instrumentation is turned on and before counting: callgrind re-translates every code block it meets once. */
const AFTER_INSTRUMENTATION_ON = 3;

function callgrindControl(pid: number, flag: string): void {
  execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore' });
}

/** The instructions (`Ir`) in the newest dump that callgrind wrote into `dir`. */
async function lastDumpInstructions(dir: string, before: ReadonlySet<string>): Promise<number> {
  const dumps = (await readdir(dir)).filter((f) => f.startsWith('callgrind.out') && !before.has(f));
  if (dumps.length !== 1) throw new Error(`expected one new callgrind dump in ${dir}, found ${dumps.length}`);
  const text = await readFile(join(dir, dumps[0]!), 'utf8');
  const totals = /^(?:totals|summary): (\d+)/m.exec(text);
  if (totals === null) throw new Error(`no totals in ${dumps[0]}`);
  return Number(totals[1]);
}

async function countOne(target: Target, dir: string, plan: (typeof WORKLOAD_PLAN)[number]): Promise<number> {
  const pid = target.pid!;
  const send = async (n: number): Promise<void> => {
    const r = await closedLoop(target.endpoint, plan.workload, 1, Number.POSITIVE_INFINITY, n);
    if (r.ok !== n) throw new Error(`${plan.workload.name}: ${n - r.ok} of ${n} requests failed`);
  };
  await send(plan.warmUp);
  callgrindControl(pid, '--instr=on');
  await send(AFTER_INSTRUMENTATION_ON);
  callgrindControl(pid, '--zero');
  await send(plan.counted);
  const before = new Set(await readdir(dir));
  callgrindControl(pid, '--dump');
  const instructions = await lastDumpInstructions(dir, before);
  callgrindControl(pid, '--instr=off');
  return instructions / plan.counted;
}

/** One run: a fresh router under callgrind; instructions per request of each workload. */
async function oneRun(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-cost-'));
  const wrapper = ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'callgrind.out')}`];
  // Under callgrind the event loop lags far behind: the router must not take that for overload.
  const targets = await startTargets(dir, { peers: false, variants: [], routerWrapper: wrapper, routerLimits: NEVER_SHED });
  try {
    const out: Record<string, number> = {};
    for (const plan of WORKLOAD_PLAN) out[plan.workload.name] = await countOne(targets.router, dir, plan);
    return out;
  } finally {
    await targets.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cost: { type: 'boolean' }, runs: { type: 'string', default: '1' }, out: { type: 'string' } } });
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('--cost needs valgrind (apt-get install valgrind)');
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const started = Date.now();
    runs.push(await oneRun());
    process.stdout.write(`run ${i + 1}: ${Object.entries(runs.at(-1)!).map(([w, n]) => `${w} ${(n / 1e6).toFixed(2)} M`).join(', ')} instructions per request (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  const names = WORKLOAD_PLAN.map((p) => p.workload.name);
  const spread = (name: string) => {
    const values = runs.map((r) => r[name]!);
    const mid = median(values);
    return { median: mid, min: Math.min(...values), max: Math.max(...values), spreadPercent: ((Math.max(...values) - Math.min(...values)) / mid) * 100 };
  };
  const commit = execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const lines = [
    `Router instructions per request (callgrind, all threads, user space), ${runs.length} run(s) at commit ${commit}; each run a fresh router, warmed up uncounted.`,
    '',
    '| workload | median | min – max | spread |',
    '|---|---|---|---|',
    ...names.map((name) => {
      const s = spread(name);
      return `| ${name === 'chat-1k' ? 'chat 1 KB, one at a time' : '50-chunk stream, one at a time'} | ${(s.median / 1e6).toFixed(2)} M | ${(s.min / 1e6).toFixed(2)} – ${(s.max / 1e6).toFixed(2)} M | ${s.spreadPercent.toFixed(1)}% |`;
    }),
  ];
  await writeResults(values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'cost'), lines.join('\n') + '\n', { commit, runs, summary: Object.fromEntries(names.map((n) => [n, spread(n)])) });
}

runAsEntryPoint('cost.js', main);

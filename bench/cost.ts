/**
 * npm run bench -- --cost [--runs N] [--out DIR] [--node-flags="..."] [--bun] [--tracing RATIO]
 *
 * The router's cost per request as a count of instructions, which the machine's load does not move
 * the way it moves latency and CPU time: the router runs under valgrind's callgrind with
 * instrumentation off (startup and warm-up at valgrind's base speed, so V8 has optimised the hot
 * path as it would natively), then counts every instruction its threads execute (user space) while
 * a fixed workload goes through Envoy: chat completions with a 1 KB prompt, one at a time, and
 * streams of 50 chunks, one at a time. Hardware counters (`perf stat -e instructions`) would be
 * cheaper, but virtual machines like this one often do not expose them (docs/decisions.md).
 * The count is Node's, whatever the router's default runtime (`--bun` for Bun's, which varies).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { RUNTIME_ENV } from '../src/devstack/runtime.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { closedLoop, type Workload } from './load.js';
import { NEVER_SHED } from './overload.js';
import { WORKLOADS } from './scenarios.js';
import { median } from './stats.js';
import { bunBinary } from './runtimes.js';
import { startTargets, type Target } from './targets.js';

/** Each workload: requests sent (uncounted) to warm up, then counted. Enough for V8 to settle; few enough for a minute. */
const WORKLOAD_PLAN: ReadonlyArray<{ workload: Workload; warmUp: number; counted: number }> = [
  { workload: WORKLOADS['chat-1k'], warmUp: 500, counted: 20 },
  { workload: WORKLOADS['stream-50'], warmUp: 50, counted: 2 },
];

/** Requests sent after instrumentation is turned on and before counting: callgrind re-translates every code block it meets once. */
const AFTER_INSTRUMENTATION_ON = 3;

function callgrindControl(pid: number, flag: string): void {
  execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore' });
}

/** Instructions (`Ir`) in the dump callgrind just wrote into `dir`: the main thread's (JavaScript) and all threads' (with V8's compiler and GC helpers). */
async function newDumpInstructions(dir: string, before: ReadonlySet<string>): Promise<Count> {
  // With --separate-threads=yes a dump is one file per thread: callgrind.out.<dump>-<thread>.
  const files = (await readdir(dir)).filter((f) => /^callgrind\.out\.\d+-\d+$/.test(f) && !before.has(f));
  if (files.length === 0) throw new Error(`no new callgrind dump in ${dir}`);
  const count: Count = { main: 0, all: 0 };
  for (const file of files) {
    const totals = /^(?:totals|summary): (\d+)/m.exec(await readFile(join(dir, file), 'utf8'));
    if (totals === null) throw new Error(`no totals in ${file}`);
    count.all += Number(totals[1]);
    if (file.endsWith('-01')) count.main += Number(totals[1]);
  }
  return count;
}

interface Count {
  main: number;
  all: number;
}

async function countOne(target: Target, dir: string, plan: (typeof WORKLOAD_PLAN)[number]): Promise<Count> {
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
  const instructions = await newDumpInstructions(dir, before);
  callgrindControl(pid, '--instr=off');
  return { main: instructions.main / plan.counted, all: instructions.all / plan.counted };
}

/** One run: a fresh router under callgrind; instructions per request of each workload. */
async function oneRun(nodeFlags: readonly string[] | undefined, routerEnv: NodeJS.ProcessEnv | undefined, tracing: number | undefined): Promise<Record<string, Count>> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-cost-'));
  const wrapper = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'callgrind.out')}`];
  // Under callgrind the event loop lags far behind: the router must not take that for overload.
  const targets = await startTargets(dir, { peers: false, variants: [], routerWrapper: wrapper, routerLimits: NEVER_SHED, routerEnv, ...(tracing === undefined ? {} : { routerTracing: { sampleRatio: tracing } }), ...(nodeFlags === undefined ? {} : { routerNodeFlags: nodeFlags }) });
  try {
    const out: Record<string, Count> = {};
    for (const plan of WORKLOAD_PLAN) out[plan.workload.name] = await countOne(targets.router, dir, plan);
    return out;
  } finally {
    await targets.stop();
  }
}

async function main(): Promise<void> {
  // `--node-flags="--max-semi-space-size=8 ..."` (one argument): the router's V8 flags instead of the shipped ones (ROUTER_NODE_FLAGS).
  // `--bun`: the router on Bun (bench/runtimes.ts) instead of Node.
  // `--tracing 0.01`: Envoy samples every request, the router traces this share (router.yaml tracing.sample_ratio).
  const { values } = parseArgs({ options: { cost: { type: 'boolean' }, runs: { type: 'string', default: '1' }, out: { type: 'string' }, 'node-flags': { type: 'string' }, bun: { type: 'boolean' }, tracing: { type: 'string' } } });
  const tracing = values.tracing === undefined ? undefined : Number(values.tracing);
  const nodeFlags = values['node-flags']?.split(' ').filter((f) => f !== '');
  const bun = values.bun === true ? await bunBinary() : null;
  if (bun !== null && 'error' in bun) throw new Error(`--bun: ${bun.error}`);
  // Node by default, whatever the router's default runtime: Bun's count varies several-fold with its
  // JIT and GC helper threads (docs/decisions.md), so only Node's judges a change by one number.
  const routerEnv = { ...process.env, [RUNTIME_ENV]: bun === null ? 'node' : bun.path };
  const runtime = `${bun === null ? `Node ${process.versions.node}` : `Bun ${bun.version}`}${tracing === undefined ? '' : `, tracing ${tracing * 100}% of requests`}`;
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('--cost needs valgrind (apt-get install valgrind)');
  const runs: Array<Record<string, Count>> = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const started = Date.now();
    runs.push(await oneRun(nodeFlags, routerEnv, tracing));
    const figures = Object.entries(runs.at(-1)!).map(([w, n]) => `${w} ${(n.main / 1e6).toFixed(2)} M (all threads ${(n.all / 1e6).toFixed(2)} M)`);
    process.stdout.write(`run ${i + 1}: ${figures.join(', ')} instructions per request (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  const spread = (name: string, which: keyof Count) => {
    const values = runs.map((r) => r[name]![which]);
    const mid = median(values);
    return { median: mid, min: Math.min(...values), max: Math.max(...values), spreadPercent: ((Math.max(...values) - Math.min(...values)) / mid) * 100 };
  };
  const m = (v: number) => `${(v / 1e6).toFixed(2)} M`;
  const cell = (name: string, which: keyof Count) => {
    const s = spread(name, which);
    return `${m(s.median)} (${m(s.min)} – ${m(s.max)}, spread ${s.spreadPercent.toFixed(1)}%)`;
  };
  const names = WORKLOAD_PLAN.map((p) => p.workload.name);
  const commit = execFileSync('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const lines = [
    `Router instructions per request (callgrind, user space) on ${runtime}, ${runs.length} run(s) at commit ${commit}; each run a fresh router, warmed up uncounted. Median (min – max, spread = (max − min) / median).`,
    'The main thread runs the JavaScript; "all threads" adds the engine\'s background compiler and GC helpers, which vary with when it decides to optimise.',
    '',
    '| workload | main thread | all threads |',
    '|---|---|---|',
    ...names.map((name) => `| ${name === 'chat-1k' ? 'chat 1 KB, one at a time' : '50-chunk stream, one at a time'} | ${cell(name, 'main')} | ${cell(name, 'all')} |`),
  ];
  const summary = Object.fromEntries(names.map((n) => [n, { main: spread(n, 'main'), all: spread(n, 'all') }]));
  await writeResults(values.out ?? join(PROJECT_ROOT, 'bench', 'results', bun === null ? (tracing === undefined ? 'cost' : `cost-tracing-${tracing}`) : 'cost-bun'), lines.join('\n') + '\n', { commit, runtime, runs, summary });
}

runAsEntryPoint('cost.js', main);

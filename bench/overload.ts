/**
 * npm run bench -- --overload [--rates 1000,2000,3000] [--duration-ms 5000]
 *
 * Failures at overload: chat 1 KB at open-loop rates the router may not keep up with, through
 * Envoy, once with the router's overload bounds out of reach (what the router did before it shed)
 * and once with the shipped defaults (limits.overload). For each: how many were served, how many
 * the router refused at once (503 overloaded) and how fast, and how many failed otherwise (Envoy's
 * 2 s message timeout, a reset) and after how long.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop, openLoop, type LoadResult } from './load.js';
import { runAsEntryPoint } from './entry.js';
import { WORKLOADS } from './scenarios.js';
import { distribution } from './stats.js';
import { startTargets } from './targets.js';

/** router.yaml `limits` under which the router never sheds (what it did before it could). */
export const NEVER_SHED = { overload: { max_event_loop_lag_ms: 3_600_000, protected_max_event_loop_lag_ms: 3_600_000, max_in_flight: 1_000_000_000, protected_max_in_flight: 1_000_000_000 } };

const MODES = {
  'bounds out of reach': NEVER_SHED,
  'shipped defaults': {},
} as const;

const ms = (values: readonly number[]) => {
  if (values.length === 0) return '–';
  const d = distribution(values);
  return `${d.p50.toFixed(0)} / ${d.p99.toFixed(0)}`;
};

function row(mode: string, rate: number, r: LoadResult): string {
  const refused = r.failures.filter((f) => f.overloaded);
  const other = r.failures.filter((f) => !f.overloaded);
  const offered = r.ok + r.errors + r.dropped;
  const pct = (n: number) => `${n} (${((100 * n) / offered).toFixed(1)}%)`;
  const statuses = [...new Set(other.map((f) => f.status))].sort().join(', ');
  return `| ${mode} | ${rate}/s | ${pct(r.ok)} | ${ms(r.latencyMs)} | ${pct(refused.length)} | ${ms(refused.map((f) => f.ms))} | ${pct(other.length + r.dropped)} | ${ms(other.map((f) => f.ms))} | ${statuses || '–'} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { overload: { type: 'boolean' }, rates: { type: 'string', default: '1000,2000,3000' }, 'duration-ms': { type: 'string', default: '5000' } } });
  const rates = values.rates.split(',').map(Number);
  const durationMs = Number(values['duration-ms']);
  const lines = [
    '| router | offered | served | served p50 / p99 ms | refused 503 overloaded | refused after p50 / p99 ms | failed otherwise | failed after p50 / p99 ms | their statuses |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [mode, limits] of Object.entries(MODES)) {
    const targets = await startTargets(await mkdtemp(join(tmpdir(), 'llm-router-overload-')), { peers: false, variants: [], routerLimits: limits });
    try {
      await closedLoop(targets.router.endpoint, WORKLOADS['chat-1k'], 16, 1000);
      for (const rate of rates) {
        const r = await openLoop(targets.router.endpoint, WORKLOADS['chat-1k'], rate, durationMs);
        lines.push(row(mode, rate, r));
        process.stdout.write(`${lines.at(-1)}\n`);
      }
    } finally {
      await targets.stop();
    }
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

runAsEntryPoint('overload.js', main);

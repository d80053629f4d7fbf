/**
 * The shipped Prometheus rules and Grafana dashboard against a real Prometheus (Debian's package;
 * `npm test`'s setup installs it) scraping the router's /metrics and Envoy's /stats/prometheus:
 * promtool accepts the rules; under steady traffic a failing deployment fires the error-ratio alert
 * and its recovery resolves it; every dashboard panel's query returns data. The rules run with
 * every duration divided by TIME_SCALE (rendered from deploy/prometheus/rules.yml, the one source).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { freePort } from '../../src/devstack/ports.js';
import { spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import { startStack, type Stack } from '../support/stack.js';

const RULES = join(PROJECT_ROOT, 'deploy', 'prometheus', 'rules.yml');
const DASHBOARD = join(PROJECT_ROOT, 'deploy', 'grafana', 'llm-router.json');
/** 5 minutes of the shipped rules are 50 s here; Prometheus scrapes and evaluates every second (6 s at full scale). */
const TIME_SCALE = 6;
/** What Grafana's `$__rate_interval` becomes in the panel queries. */
const RATE_INTERVAL = '30s';

/** The rules with each duration (a range `[5m]`, a `for: 2m`) divided by TIME_SCALE, in seconds. */
function scaledRules(yaml: string): string {
  const seconds = (n: string, unit: string) => `${Math.max(1, Math.round((Number(n) * { s: 1, m: 60, h: 3600 }[unit]!) / TIME_SCALE))}s`;
  return yaml.replace(/\[(\d+)([smh])\]/g, (_m, n: string, u: string) => `[${seconds(n, u)}]`).replace(/^(\s+for: )(\d+)([smh])$/gm, (_m, p: string, n: string, u: string) => `${p}${seconds(n, u)}`);
}

let stack: Stack;
let prometheus: Child;
let prometheusUrl: string;
let load: { stop: boolean; done: Promise<void> };

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

async function alertState(name: string, deployment: string): Promise<string> {
  const body = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
  return body.data.alerts.find((a) => a.labels.alertname === name && a.labels.deployment === deployment)?.state ?? 'inactive';
}

/** Steady traffic until stopped: chats and streams, and now and then a request for a model nobody serves. */
function steadyTraffic(): { stop: boolean; done: Promise<void> } {
  const state = { stop: false, done: Promise.resolve() };
  const one = async (i: number) => {
    const model = i % 10 === 9 ? 'no-such-model' : 'gpt-4o-mini';
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ model, stream: i % 2 === 0, messages: [{ role: 'user', content: `request ${i}` }] }),
    });
    await res.arrayBuffer();
  };
  state.done = (async () => {
    for (let i = 0; !state.stop; i++) await Promise.all([one(2 * i), one(2 * i + 1)]);
  })();
  return state;
}

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'a', group: 'gpt-4o-mini', behaviour: { chunks: 5 } },
      { name: 'b', group: 'gpt-4o-mini', behaviour: { chunks: 5 } },
    ],
    config: { model_group_budgets: [{ group: 'gpt-4o-mini', usd: 100, window: '1d' }] },
  });
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-prometheus-'));
  await writeFile(join(dir, 'rules.yml'), scaledRules(await readFile(RULES, 'utf8')));
  const target = (url: string) => new URL(url).host;
  await writeFile(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yml')],
      scrape_configs: [
        { job_name: 'llm-router', static_configs: [{ targets: [target(stack.routerAdmin)] }] },
        { job_name: 'envoy', metrics_path: '/stats/prometheus', static_configs: [{ targets: [target(stack.envoyAdmin)] }] },
      ],
    }),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawnChild('prometheus', process.env.PROMETHEUS_BIN || 'prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    logFile: join(dir, 'prometheus.log'),
  });
  await waitUntil(async () => (await query('up == 1')).length === 2, 30_000, () => `Prometheus does not scrape both targets: ${prometheus.output()}`, prometheus);
  load = steadyTraffic();
}, 90_000);

afterAll(async () => {
  if (load !== undefined) {
    load.stop = true;
    await load.done.catch(() => undefined);
  }
  await prometheus?.stop();
  await stack?.stop();
});

it('promtool accepts the shipped rules', () => {
  expect(execFileSync(process.env.PROMTOOL_BIN || 'promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
});

it('a failing deployment fires the error-ratio alert, and every dashboard panel has data; its recovery resolves the alert', async () => {
  // Traffic is seen before the fault: both deployments answer.
  await waitUntil(async () => (await query('sum by (deployment) (llm_router_attempts_total{result="ok"}) > 0')).length === 2, 30_000, () => 'no successful attempts at both deployments');
  expect(await alertState('LLMDeploymentErrorRatioHigh', 'b')).toBe('inactive');

  stack.mock('b').setBehaviour({ status: 500 });
  const faultAt = Date.now();
  await waitUntil(async () => (await alertState('LLMDeploymentErrorRatioHigh', 'b')) === 'firing', 120_000, () => 'LLMDeploymentErrorRatioHigh never fired for deployment b');
  // Within 2 minutes of the fault, at full scale.
  expect(Date.now() - faultAt).toBeLessThan(120_000 / TIME_SCALE);
  expect(await alertState('LLMDeploymentErrorRatioHigh', 'a')).toBe('inactive');

  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const empty: string[] = [];
  for (const panel of dashboard.panels) {
    for (const t of panel.targets) {
      if ((await query(t.expr.replaceAll('$__rate_interval', RATE_INTERVAL))).length === 0) empty.push(`${panel.title}: ${t.expr}`);
    }
  }
  expect(empty).toEqual([]);

  stack.mock('b').setBehaviour({ status: 200 });
  await waitUntil(async () => (await alertState('LLMDeploymentErrorRatioHigh', 'b')) === 'inactive', 120_000, () => 'LLMDeploymentErrorRatioHigh did not resolve after deployment b recovered');
}, 300_000);

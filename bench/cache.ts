/**
 * npm run bench -- --cache [--duration MS] [--rounds N] [--out DIR]
 *
 * What a hit of the exact cache costs, in one run: the same chat request (1 KB prompt) through
 * Envoy with the router, answered from the cache (a hit: the router's immediate response to the
 * request-body message, from the in-memory store); the same request with `Cache-Control: no-cache`
 * (a miss: the router routes it to the mock provider, which answers at once, and stores the answer);
 * and a plain Envoy answering the stored body itself (`direct_response`), the floor a hit is
 * measured against. Closed loops at concurrency 1 and 16; the targets take turns, round after
 * round, so the machine's drift falls on all three. Latency is from the request to its last byte.
 *
 * Times are this machine's under whatever else runs on it: compare the rows of one run.
 * Results: DIR/results.json and DIR/results.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { freePort } from '../src/devstack/ports.js';
import { spawnEnvoy } from './envoy.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { closedLoop, type Endpoint, type Workload } from './load.js';
import { WORKLOADS } from './scenarios.js';
import { distribution, type Distribution } from './stats.js';
import { startTargets } from './targets.js';

const CONCURRENCIES = [1, 16] as const;

/** One POST: its status, headers and body. */
function post(port: number, w: Workload): Promise<{ status: number; cache: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { ...w.headers, 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: res.headers['x-llm-cache'] as string | undefined, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(w.body);
  });
}

/** An Envoy that answers every request with `body` itself: the shipped listener's settings matter not, only the path through Envoy. */
function staticEnvoyConfig(listener: number, admin: number, body: Buffer): string {
  return stringify({
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: admin } } },
    static_resources: {
      listeners: [
        {
          name: 'static',
          address: { socket_address: { address: '127.0.0.1', port_value: listener } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'static',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'static',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body.toString('utf8') } }, response_headers_to_add: [{ header: { key: 'content-type', value: 'application/json' } }] }],
                        },
                      ],
                    },
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  });
}

interface Row {
  readonly target: string;
  readonly concurrency: number;
  readonly latencyMs: Distribution;
  readonly perSec: number;
  readonly errors: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' }, out: { type: 'string', default: join(PROJECT_ROOT, 'bench', 'results', 'cache') } } });
  const durationMs = Number(values.duration);
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(tmpdir(), 'bench-cache-'));
  const targets = await startTargets(dir, { peers: false, variants: [], routerGroups: { 'bench-chat': { cache: { ttl_seconds: 3600 } } } });
  const children: Array<{ stop(): Promise<void> }> = [];
  try {
    const workload = WORKLOADS['chat-1k'];
    const router = targets.router.endpoint;
    const first = await post(router.port, workload);
    const again = await post(router.port, workload);
    if (first.status !== 200 || first.cache !== 'miss' || again.cache !== 'hit' || !again.body.equals(first.body)) {
      throw new Error(`the router did not cache the answer: ${first.status} ${first.cache} then ${again.status} ${again.cache}`);
    }
    const [listener, admin] = [await freePort(), await freePort()];
    const envoy = await spawnEnvoy('envoy-static', dir, staticEnvoyConfig(listener, admin, first.body), admin, []);
    children.push(envoy);
    const runs: ReadonlyArray<{ name: string; to: Endpoint; w: Workload }> = [
      { name: 'plain Envoy, static response', to: { port: listener, headers: {} }, w: workload },
      { name: 'router: cache hit', to: router, w: workload },
      { name: 'router: miss (no-cache, to the mock provider)', to: router, w: { ...workload, name: 'chat-1k no-cache', headers: { 'cache-control': 'no-cache' } } },
    ];
    const rows: Row[] = [];
    for (const concurrency of CONCURRENCIES) {
      const latencies = runs.map(() => [] as number[]);
      const counts = runs.map(() => ({ ok: 0, errors: 0, ms: 0 }));
      for (let r = 0; r < rounds; r++) {
        for (const [i, run] of runs.entries()) {
          const result = await closedLoop(run.to, run.w, concurrency, durationMs);
          latencies[i]!.push(...result.latencyMs);
          counts[i]!.ok += result.ok;
          counts[i]!.errors += result.errors;
          counts[i]!.ms += result.elapsedMs;
        }
      }
      for (const [i, run] of runs.entries()) {
        rows.push({ target: run.name, concurrency, latencyMs: distribution(latencies[i]!), perSec: (counts[i]!.ok / counts[i]!.ms) * 1000, errors: counts[i]!.errors });
      }
    }
    const f = (ms: number) => ms.toFixed(2);
    const markdown = [
      '# Exact cache: a hit against a miss and against plain Envoy serving a static response',
      '',
      `Chat request with a 1 KB prompt; closed loops of ${durationMs} ms × ${rounds} rounds per target, the targets taking turns; latency to the last byte, in ms.`,
      '',
      '| target | concurrency | p50 | p90 | p99 | req/s | errors |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.target} | ${r.concurrency} | ${f(r.latencyMs.p50)} | ${f(r.latencyMs.p90)} | ${f(r.latencyMs.p99)} | ${r.perSec.toFixed(0)} | ${r.errors} |`),
      '',
    ].join('\n');
    await writeResults(values.out, markdown, { durationMs, rounds, rows });
  } finally {
    for (const c of children) await c.stop();
    await targets.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runAsEntryPoint('cache.js', main);

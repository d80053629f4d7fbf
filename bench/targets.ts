/**
 * What the benchmark measures, started side by side on loopback: one mock provider (its own
 * process, answering at once), the router, and two Envoys built from the shipped envoy.yaml —
 * "router" (with ext_proc) and "plain" (the same listener, route and cluster without ext_proc).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT, resolveEnvoy } from '../src/devstack/binaries.js';
import { renderEnvoyConfig } from '../src/devstack/envoy-config.js';
import { freePort } from '../src/devstack/ports.js';
import { clustersHealthy, httpOk, spawnChild, waitUntil, type Child } from '../src/devstack/processes.js';
import type { Endpoint } from './load.js';
import { startPeers, type Peer } from './peers/index.js';

import { MODELS } from './scenarios.js';

/** One deployment (= Envoy cluster) per model, named after it, all served by the one mock. */
const CLUSTERS = Object.keys(MODELS);

/** What is measured: plain Envoy (the baseline), Envoy with the router, and the peers that started. */
export interface Target {
  readonly name: string;
  readonly endpoint: Endpoint;
  /** The gateway process whose CPU and memory are reported (none for plain Envoy). */
  readonly pid: number | null;
}

export interface Targets {
  readonly list: readonly Target[];
  readonly router: Target;
  /** Peers that could not be installed or started, with the reason. */
  readonly unavailable: ReadonlyArray<{ name: string; error: string }>;
  stop(): Promise<void>;
}

async function startEnvoy(name: string, dir: string, shipped: string, mockPort: number, routerPort: number, plain: boolean): Promise<{ child: Child; port: number }> {
  const [listener, admin] = [await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  const clusters = Object.fromEntries(CLUSTERS.map((name) => [name, [mockPort]]));
  await writeFile(file, renderEnvoyConfig(shipped, { listener, admin, router: routerPort }, clusters, plain ? { withoutRouterTo: 'bench-chat' } : {}));
  const child = spawnChild(name, resolveEnvoy(), ['-c', file, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'], { logFile: join(dir, `${name}.log`) });
  const adminUrl = `http://127.0.0.1:${admin}`;
  await waitUntil(() => httpOk(`${adminUrl}/ready`), 30_000, () => child.output(), child);
  await waitUntil(() => clustersHealthy(adminUrl, CLUSTERS), 30_000, () => child.output(), child);
  return { child, port: listener };
}

export async function startTargets(dir: string, options: { peers: boolean }): Promise<Targets> {
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
  };
  try {
    const main = join(PROJECT_ROOT, 'dist', 'main.js');
    const mockPort = await freePort();
    const mockFile = join(dir, 'mock.yaml');
    await writeFile(mockFile, stringify({ instances: [{ name: 'bench', port: mockPort, models: MODELS }] }));
    const mock = spawnChild('mock', process.execPath, [main, 'mock-provider', '-c', mockFile], { logFile: join(dir, 'mock.log') });
    children.push(mock);
    await waitUntil(() => httpOk(`http://127.0.0.1:${mockPort}/health`), 10_000, () => mock.output(), mock);

    const [grpc, admin] = [await freePort(), await freePort()];
    const routerFile = join(dir, 'router.yaml');
    await writeFile(
      routerFile,
      stringify({
        server: { grpc: { port: grpc }, admin: { port: admin } },
        model_groups: Object.keys(MODELS).map((name) => ({ name })),
        // One cluster serves every model; provider_model = group name, so requests that need no
        // rewrite pass their bytes unchanged.
        deployments: CLUSTERS.map((model) => ({
          name: model,
          provider: 'openai',
          model_group: model,
          provider_model: model,
          price: { input_per_million: 1, output_per_million: 2 },
          context_window: 128000,
        })),
      }),
    );
    const router = spawnChild('router', process.execPath, [main, 'serve', '-c', routerFile], { logFile: join(dir, 'router.log') });
    children.push(router);
    await waitUntil(() => httpOk(`http://127.0.0.1:${admin}/readyz`), 15_000, () => router.output(), router);

    const shipped = await readFile(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
    const plain = await startEnvoy('envoy-plain', dir, shipped, mockPort, grpc, true);
    children.push(plain.child);
    const routed = await startEnvoy('envoy-router', dir, shipped, mockPort, grpc, false);
    children.push(routed.child);
    const routerTarget: Target = { name: 'router', endpoint: { port: routed.port, headers: {} }, pid: router.process.pid ?? null };
    const list: Target[] = [{ name: 'plain', endpoint: { port: plain.port, headers: {} }, pid: null }, routerTarget];
    const unavailable: Array<{ name: string; error: string }> = [];
    const peers: Peer[] = options.peers ? await startPeers(dir, Object.keys(MODELS), mockPort) : [];
    for (const peer of peers) {
      if ('error' in peer) unavailable.push({ name: peer.name, error: peer.error });
      else {
        children.push(peer.child);
        list.push({ name: peer.name, endpoint: peer.endpoint, pid: peer.child.process.pid ?? null });
      }
    }
    return { list, router: routerTarget, unavailable, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

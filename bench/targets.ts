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

export const GROUP = 'bench-model';
const DEPLOYMENT = 'bench-deployment';

export interface Targets {
  readonly plainPort: number;
  readonly routerPort: number;
  readonly router: Child;
  stop(): Promise<void>;
}

async function startEnvoy(name: string, dir: string, shipped: string, mockPort: number, routerPort: number, plain: boolean): Promise<{ child: Child; port: number }> {
  const [listener, admin] = [await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, renderEnvoyConfig(shipped, { listener, admin, router: routerPort }, { [DEPLOYMENT]: [mockPort] }, plain ? { withoutRouterTo: DEPLOYMENT } : {}));
  const child = spawnChild(name, resolveEnvoy(), ['-c', file, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'], { logFile: join(dir, `${name}.log`) });
  const adminUrl = `http://127.0.0.1:${admin}`;
  await waitUntil(() => httpOk(`${adminUrl}/ready`), 30_000, () => child.output(), child);
  await waitUntil(() => clustersHealthy(adminUrl, [DEPLOYMENT]), 30_000, () => child.output(), child);
  return { child, port: listener };
}

export async function startTargets(dir: string): Promise<Targets> {
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
  };
  try {
    const main = join(PROJECT_ROOT, 'dist', 'main.js');
    const mockPort = await freePort();
    const mockFile = join(dir, 'mock.yaml');
    await writeFile(mockFile, stringify({ instances: [{ name: 'bench', port: mockPort }] }));
    const mock = spawnChild('mock', process.execPath, [main, 'mock-provider', '-c', mockFile], { logFile: join(dir, 'mock.log') });
    children.push(mock);
    await waitUntil(() => httpOk(`http://127.0.0.1:${mockPort}/health`), 10_000, () => mock.output(), mock);

    const [grpc, admin] = [await freePort(), await freePort()];
    const routerFile = join(dir, 'router.yaml');
    await writeFile(
      routerFile,
      stringify({
        server: { grpc: { port: grpc }, admin: { port: admin } },
        model_groups: [{ name: GROUP }],
        // provider_model = group name: requests that need no rewrite pass their bytes unchanged.
        deployments: [{ name: DEPLOYMENT, provider: 'openai', model_group: GROUP, provider_model: GROUP, price: { input_per_million: 1, output_per_million: 2 }, context_window: 128000 }],
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
    return { plainPort: plain.port, routerPort: routed.port, router, stop };
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

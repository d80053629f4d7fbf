/** An Envoy the benchmark measures: its config written out, started on one worker, awaited until it routes. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveEnvoy } from '../src/devstack/binaries.js';
import { clustersHealthy, httpOk, spawnChild, waitUntil, type Child } from '../src/devstack/processes.js';

/** Starts Envoy `name` with `config` (YAML) in `dir`; resolves once it is ready and every cluster of `clusters` is healthy. */
export async function spawnEnvoy(name: string, dir: string, config: string, admin: number, clusters: readonly string[]): Promise<Child> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, config);
  const child = spawnChild(name, resolveEnvoy(), ['-c', file, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'], { logFile: join(dir, `${name}.log`) });
  const adminUrl = `http://127.0.0.1:${admin}`;
  try {
    await waitUntil(() => httpOk(`${adminUrl}/ready`), 30_000, () => child.output(), child);
    await waitUntil(() => clustersHealthy(adminUrl, clusters), 30_000, () => child.output(), child);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return child;
}

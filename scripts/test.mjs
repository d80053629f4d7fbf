// `npm test`: installs what is missing (dependencies, Envoy, Redis, Prometheus), builds, checks every shipped
// Envoy config with `envoy --mode validate` and against the example router.yaml (check-envoy), then
// runs the whole suite. Arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

const env = setup({ redis: true, prometheus: true });
const envoy = env.ENVOY_BIN || 'envoy';
for (const config of ['envoy/envoy.yaml']) {
  const r = spawnSync(envoy, ['--mode', 'validate', '-c', config, '--log-level', 'error'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`[test] envoy --mode validate -c ${config} failed`);
    process.exit(1);
  }
  const fit = spawnSync(process.execPath, ['dist/main.js', 'check-envoy', '-c', 'examples/router.yaml', config], { cwd: ROOT, env, stdio: 'inherit' });
  if (fit.status !== 0) process.exit(1);
}
const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { cwd: ROOT, env, stdio: 'inherit' });
process.exit(r.status ?? 1);

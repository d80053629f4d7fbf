// `npm run test:gateways`: the router behind the control planes its users run (Envoy Gateway, istiod),
// built from the Go module proxy into .tools/ on first use, and the operator console in headless
// Chromium. Each module in scripts/gateways/ provides one such tool (builds a control plane, installs
// Chromium) and returns the environment its tests read. The suite then runs inside a private
// network namespace: the control planes open fixed ports on 0.0.0.0 that cannot be configured, and
// there they reach nothing but the namespace's own loopback. Arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, setup } from './setup.mjs';

let env = setup({ redis: false, prometheus: true });
const modules = readdirSync(join(ROOT, 'scripts', 'gateways')).filter((f) => f.endsWith('.mjs')).sort();
for (const file of modules) {
  const { ensure } = await import(pathToFileURL(join(ROOT, 'scripts', 'gateways', file)).href);
  env = { ...env, ...(await ensure(env)) };
}
const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const inNamespace = `ip link set lo up && exec "$0" "$@"`;
const r = spawnSync('unshare', ['--net', 'sh', '-c', inNamespace, process.execPath, vitest, 'run', '-c', 'vitest.gateways.config.ts', ...process.argv.slice(2)], {
  cwd: ROOT,
  env,
  stdio: 'inherit',
});
if (r.error) console.error(`[test:gateways] unshare: ${r.error.message}`);
process.exit(r.status ?? 1);

// `npm run test:bun`: the integration suite with the router on Bun instead of Node
// (LLM_ROUTER_RUNTIME): the same dist/main.js behind the same Envoy, Redis, mocks and SDK clients.
// Bun comes from the npm registry on first use (scripts/setup.mjs). Arguments go to vitest
// (default: test/integration; the unit tests never start a router).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBun, ROOT, setup } from './setup.mjs';

const env = { ...setup({ redis: true, prometheus: true }), LLM_ROUTER_RUNTIME: ensureBun() };
const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const args = process.argv.length > 2 ? process.argv.slice(2) : ['test/integration'];
const r = spawnSync(process.execPath, [vitest, 'run', ...args], { cwd: ROOT, env, stdio: 'inherit' });
process.exit(r.status ?? 1);

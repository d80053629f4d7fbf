// `npm run test:node`: the integration suite with the router on Node (LLM_ROUTER_RUNTIME=node)
// instead of Bun, the default: the same dist/main.js behind the same Envoy, Redis, mocks and SDK
// clients. Arguments go to vitest (default: test/integration; the unit tests never start a router).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

process.env.LLM_ROUTER_RUNTIME = 'node';
const env = setup({ redis: true, prometheus: true });
const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const args = process.argv.length > 2 ? process.argv.slice(2) : ['test/integration'];
const r = spawnSync(process.execPath, [vitest, 'run', ...args], { cwd: ROOT, env, stdio: 'inherit' });
process.exit(r.status ?? 1);

// `npm run bench [-- --quick]`: installs what is missing, builds the router and the harness, runs
// bench/run.ts (plain Envoy vs the router, same run), writes bench/results/.
// `npm run bench -- --classifier`: the auto classifier's latency instead (bench/classifier.ts).
// `npm run bench -- --token-count`: what counting a prompt and reading a body cost (bench/token-count.ts).
// `npm run bench -- --overload`: failures at overload, shedding off and on (bench/overload.ts).
// `npm run bench -- --translation`: translated providers against the OpenAI passthrough (bench/translation.ts).
// `npm run bench -- --sigv4`: Bedrock's SigV4 signing in the router vs Envoy's aws_request_signing filter (bench/sigv4.ts).
// `npm run bench -- --cache`: an exact-cache hit against a miss and plain Envoy's static response (bench/cache.ts).
// `npm run bench -- --semantic`: the semantic cache's lookup at 100,000 stored prompts (bench/semantic.ts).
// `npm run bench -- --extproc-rate`: the router's added latency at 1,000 req/s, tracing off and on, over ext_proc alone (bench/extproc-rate.ts).
// `npm run bench -- --cost`: the router's instructions per request under callgrind (bench/cost.ts).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

const env = setup({ redis: false });
const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.bench.json'], { cwd: ROOT, stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const ENTRIES = { '--classifier': 'classifier.js', '--token-count': 'token-count.js', '--memory': 'memory.js', '--overload': 'overload.js', '--translation': 'translation.js', '--sigv4': 'sigv4.js', '--cost': 'cost.js', '--cache': 'cache.js', '--semantic': 'semantic.js', '--extproc-rate': 'extproc-rate.js' };
const entry = Object.entries(ENTRIES).find(([flag]) => process.argv.includes(flag))?.[1] ?? 'run.js';
const r = spawnSync(process.execPath, [join(ROOT, 'bench', '.build', 'bench', entry), ...process.argv.slice(2)], { cwd: ROOT, env, stdio: 'inherit' });
process.exit(r.status ?? 1);

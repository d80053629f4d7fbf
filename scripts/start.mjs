// `npm start`: installs what is missing, builds, then runs Envoy + router + mock providers with
// the bundled example config (`llm-router demo`).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

const env = setup({ redis: false });
const demo = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'demo'], { cwd: ROOT, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => demo.kill(signal));
demo.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

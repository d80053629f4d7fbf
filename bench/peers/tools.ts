/** Where peers are installed on first use (bench/.tools/, never committed), and how. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';

export const TOOLS = join(PROJECT_ROOT, 'bench', '.tools');

/** Runs the install command unless `check` exists; null when it is there, else why it is not. */
export function install(name: string, check: string, command: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string): string | null {
  if (existsSync(check)) return null;
  process.stdout.write(`installing ${name} into bench/.tools/ …\n`);
  const r = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: env ?? process.env, cwd });
  return r.status === 0 && existsSync(check) ? null : `install failed: ${command} ${args.join(' ')}: ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`;
}

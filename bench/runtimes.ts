/**
 * The runtimes the router runs on (LLM_ROUTER_RUNTIME, src/devstack/runtime.ts): Bun by default,
 * installed on first use by the same step the start and test scripts use (scripts/setup.mjs), so
 * the benchmark measures the runtime the suite checks; Node with `LLM_ROUTER_RUNTIME=node`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { RUNTIME_ENV } from '../src/devstack/runtime.js';

interface Setup {
  readonly BUN_VERSION: string;
  ensureBun(): string;
}

/** Bun's version and binary, installed if missing; or why it could not be. */
export async function bunBinary(): Promise<{ path: string; version: string } | { error: string }> {
  const setup = (await import(pathToFileURL(join(PROJECT_ROOT, 'scripts', 'setup.mjs')).href)) as Setup;
  try {
    return { path: setup.ensureBun(), version: setup.BUN_VERSION };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** The runtime and version `env` starts the router on, as results name it: `bun 1.4.5`, `node v22.23.0`. */
export function routerRuntimeName(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env[RUNTIME_ENV];
  if (runtime === undefined || runtime === '' || runtime === 'node') return `node ${process.version}`;
  try {
    return `bun ${execFileSync(runtime, ['--version'], { encoding: 'utf8' }).trim()}`;
  } catch {
    return `${runtime} (version unknown)`;
  }
}

/**
 * Other JavaScript runtimes the router can run on (LLM_ROUTER_RUNTIME): Bun, installed on first use
 * by the same step `npm run test:bun` uses (scripts/setup.mjs), so the benchmark measures the
 * runtime the suite checks.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';

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

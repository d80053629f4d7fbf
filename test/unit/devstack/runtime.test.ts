/**
 * The router's runtime and memory settings reach every way it is started: the demo, the tests and
 * the benchmark start it through routerCommand (Bun with ROUTER_BUN_ENV, or Node with
 * ROUTER_NODE_FLAGS on the command line); the container image (and so docker-compose) runs it on
 * Bun with the same environment, and keeps Node's flags in NODE_OPTIONS for its Node fallback
 * (NODE_OPTIONS refuses most V8 flags, --heap-growing-percent and --optimize-for-size among them).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';
import { ROUTER_BUN_ENV, ROUTER_NODE_FLAGS, routerCommand } from '../../../src/devstack/runtime.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  entrypoint?: unknown;
  environment?: Record<string, string>;
}

const dockerfile = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
/** The runtime stage's ENV, from every ENV line (unquoted or double-quoted values). */
const imageEnv = Object.fromEntries(
  [...runtimeStage.matchAll(/^ENV (.*)$/gm)].flatMap(([, line]) =>
    [...line!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g)].map(([, k, v]) => [k, v!.startsWith('"') ? (JSON.parse(v!) as string) : v]),
  ),
) as Record<string, string>;
const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
/** The compose services that run the router image (the one that builds it and those using its tag). */
const onImage = Object.entries(compose.services).filter(([, s]) => s.build !== undefined || s.image === Object.values(compose.services).find((b) => b.build !== undefined)?.image);

it('the container image runs the router on Bun, with the memory setting of every other start path', () => {
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(runtimeStage)![1]!) as string[];
  expect(entrypoint.slice(entrypoint.indexOf('--') + 1)).toEqual(['bun', 'dist/main.js']);
  expect(Object.fromEntries(Object.entries(imageEnv).filter(([k]) => k.startsWith('BUN_JSC_')))).toEqual(ROUTER_BUN_ENV);
  // Bun's transpiler cache, which a read-only root filesystem refuses, is off.
  expect(imageEnv.BUN_RUNTIME_TRANSPILER_CACHE_PATH).toBe('0');
  // and Node's heap settings for `node dist/main.js`, its fallback.
  expect(imageEnv.NODE_OPTIONS).toBe(ROUTER_NODE_FLAGS.join(' '));
});

it('docker-compose keeps the image entrypoint and memory settings', () => {
  expect(onImage.map(([name]) => name).sort()).toEqual(['mock-providers', 'router']);
  const overrides = onImage.flatMap(([name, s]) =>
    [...(s.entrypoint === undefined ? [] : ['entrypoint']), ...Object.keys(s.environment ?? {}).filter((k) => k === 'NODE_OPTIONS' || k.startsWith('BUN_JSC_'))].map((what) => `${name}: ${what}`),
  );
  expect(overrides).toEqual([]);
});

it('NODE_OPTIONS accepts the heap settings', () => {
  const r = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { ...process.env, NODE_OPTIONS: ROUTER_NODE_FLAGS.join(' ') }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

it("the pinned Bun accepts the memory setting, with the image's NODE_OPTIONS beside it", async () => {
  // BUN_JSC_* variables are JavaScriptCore's options, not a stable API: Bun refuses an unknown or
  // malformed one at start (exit 1, "invalid JSC environment variable"), so a Bun upgrade that drops
  // it fails here.
  const setup = (await import(pathToFileURL(join(PROJECT_ROOT, 'scripts', 'setup.mjs')).href)) as { ensureBun(): string };
  const bun = setup.ensureBun();
  const r = spawnSync(bun, ['-e', 'process.exit(0)'], { env: { ...process.env, ...ROUTER_BUN_ENV, NODE_OPTIONS: imageEnv.NODE_OPTIONS }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 300_000);

it('starts the router on Node with its flags unless LLM_ROUTER_RUNTIME names a Bun binary, which gets the memory setting', () => {
  const base = { PATH: '/usr/bin' };
  for (const env of [base, { ...base, LLM_ROUTER_RUNTIME: '' }, { ...base, LLM_ROUTER_RUNTIME: 'node' }]) {
    expect(routerCommand('main.js', ['serve'], { runtimeFlags: ['--cpu-prof'], env })).toEqual({ command: process.execPath, args: [...ROUTER_NODE_FLAGS, '--cpu-prof', 'main.js', 'serve'], env });
  }
  const bun = { ...base, LLM_ROUTER_RUNTIME: '/opt/bun' };
  expect(routerCommand('main.js', ['serve'], { runtimeFlags: ['--cpu-prof'], env: bun })).toEqual({ command: '/opt/bun', args: ['--cpu-prof', 'main.js', 'serve'], env: { ...ROUTER_BUN_ENV, ...bun } });
  // An operator's own setting wins over the default.
  expect(routerCommand('main.js', [], { env: { ...bun, BUN_JSC_forceRAMSize: '536870912' } }).env.BUN_JSC_forceRAMSize).toBe('536870912');
});

/**
 * The router's V8 heap settings reach every way it is started: the demo, the tests and the benchmark
 * pass ROUTER_NODE_FLAGS on the command line; the container image (and so docker-compose) gets them
 * through NODE_OPTIONS, which refuses most V8 flags (--heap-growing-percent and --optimize-for-size among them).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';
import { ROUTER_NODE_FLAGS } from '../../../src/devstack/node-flags.js';

it('the container image runs the router with the same heap settings as every other start path', () => {
  const dockerfile = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  expect(/^ENV .*NODE_OPTIONS="([^"]*)"/m.exec(runtime)?.[1]).toBe(ROUTER_NODE_FLAGS.join(' '));
  // docker-compose does not override them.
  const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
  expect(Object.values(compose.services).filter((s) => s.environment?.NODE_OPTIONS !== undefined)).toEqual([]);
});

it('NODE_OPTIONS accepts the heap settings', () => {
  const r = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { ...process.env, NODE_OPTIONS: ROUTER_NODE_FLAGS.join(' ') }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

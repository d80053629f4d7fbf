/**
 * The router's V8 heap settings reach every way it is started: the demo, the tests and the benchmark
 * pass ROUTER_NODE_FLAGS on the command line; a container gets them through NODE_OPTIONS, which
 * refuses most V8 flags (--heap-growing-percent and --optimize-for-size among them).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';
import { ROUTER_NODE_FLAGS } from '../../../src/devstack/node-flags.js';

it('docker-compose runs the router with the same heap settings as every other start path', () => {
  const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: { router: { environment: Record<string, string> } } };
  expect(compose.services.router.environment.NODE_OPTIONS).toBe(ROUTER_NODE_FLAGS.join(' '));
});

it('NODE_OPTIONS accepts the heap settings', () => {
  const r = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { ...process.env, NODE_OPTIONS: ROUTER_NODE_FLAGS.join(' ') }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

/**
 * router.yaml names a deployment envoy.yaml has no cluster for (added to one file, not the other):
 * check-envoy reports it before deployment, and a router running anyway routes around it instead
 * of sending half the traffic to Envoy's 503.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'drift-served', group: 'chat' },
      { name: 'drift-ghost', group: 'chat', withoutCluster: true },
    ],
    routing: { health_poll_ms: 200, decision_header: true },
  });
}, 60_000);

afterAll(async () => stack?.stop());

it('check-envoy --admin finds the same in the config the running Envoy serves', () => {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'dist', 'main.js'), 'check-envoy', '-c', stack.routerConfigFiles[0]!, '--admin', stack.envoyAdmin], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`${stack.envoyAdmin} static_resources.clusters: error: no cluster named "drift-ghost"`);
  expect(r.stderr).toMatch(/error: deployment "drift-ghost" of router\.yaml is missing/);
  expect(r.stderr).toContain(`${stack.envoyAdmin}: does not fit`);
});

it('check-envoy names the missing cluster; the router routes around it and says so once', async () => {
  expect(stack.envoyProblems.filter((p) => p.level === 'error').map((p) => p.message)).toEqual([
    expect.stringMatching(/^deployment "drift-ghost" of router\.yaml is missing .*503/),
    expect.stringMatching(/^no cluster named "drift-ghost"/),
  ]);
  await waitUntil(async () => stack.router.output().includes('Envoy has no cluster for these deployments'), 10_000, () => stack.router.output());

  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-router-debug': '1' });
    await res.arrayBuffer();
    statuses.push(res.status);
    if (i === 0) expect(res.headers.get('x-llm-router-decision')).toContain(`drift-ghost:unhealthy`);
  }
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  expect(stack.mocks['drift-served']![0]!.stats().requests).toBe(50);
  expect(stack.router.output().match(/Envoy has no cluster for these deployments/g)).toHaveLength(1);
  expect(stack.router.output()).toContain('"deployments":["drift-ghost"]');
});

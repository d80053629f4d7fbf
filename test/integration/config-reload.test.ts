/**
 * Reloading router.yaml under load (SIGHUP, or the admin API): new requests follow the new config at
 * once, requests in flight finish on the one they started with, a broken file changes nothing, and
 * no request fails on the way.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { waitUntil } from '../../src/devstack/processes.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'reload-a', group: 'chat' },
      { name: 'reload-b', group: 'chat' },
    ],
  });
  started = await readFile(stack.routerConfigFiles[0]!, 'utf8');
}, 60_000);

afterAll(async () => stack?.stop());

const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const served = (d: string) => stack.mocks[d]![0]!.stats().requests;
const count = (text: string, what: string) => text.split(what).length - 1;

/** Writes the replica's router.yaml as `edit` makes it from the one the stack started with. */
async function writeRouterConfig(edit: (file: Record<string, any>) => void): Promise<void> {
  const file = parse(started) as Record<string, any>;
  edit(file);
  await writeFile(stack.routerConfigFiles[0]!, stringify(file));
}
let started = '';

const reloadByApi = async () => {
  const res = await stack.adminFetch('/config/reload', { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

it('applies a new router.yaml under load: open streams finish, new requests follow it, a broken file changes nothing', async () => {
  const statuses: number[] = [];
  let loading = true;
  const workers = Array.from({ length: 4 }, async () => {
    while (loading) {
      const res = await postChat(stack.url, chat);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  });
  await waitUntil(async () => served('reload-a') > 0 && served('reload-b') > 0, 10_000, () => 'the load reached neither deployment');

  // Streams that span the reload: ten chunks 150 ms apart.
  for (const d of ['reload-a', 'reload-b']) stack.mocks[d]![0]!.setBehaviour({ chunk_interval_ms: 150 });
  // Open when their response headers have come back: decided on the running config.
  const opened = await Promise.all(Array.from({ length: 4 }, () => postChat(stack.url, { ...chat, stream: true })));
  const streams = opened.map(async (res) => ({ status: res.status, text: await res.text() }));

  // reload-a leaves router.yaml (its Envoy cluster stays): SIGHUP.
  await writeRouterConfig((f) => (f.deployments = f.deployments.filter((d: { name: string }) => d.name !== 'reload-a')));
  stack.router.process.kill('SIGHUP');
  await waitUntil(async () => stack.router.output().includes('config reloaded'), 10_000, () => stack.router.output());
  for (const d of ['reload-a', 'reload-b']) stack.mocks[d]![0]!.setBehaviour({ chunk_interval_ms: 0 });
  // A request each worker had decided on the old config may still be on its way to reload-a: once
  // every worker has finished two more, none is.
  const finishedAtReload = statuses.length;
  await waitUntil(async () => statuses.length >= finishedAtReload + 8, 10_000, () => 'the load stopped after the reload');
  const aBefore = served('reload-a');
  await sleep(1000);
  expect(served('reload-a')).toBe(aBefore);

  for (const s of await Promise.all(streams)) {
    expect(s.status).toBe(200);
    expect(s.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  }

  // A broken file: refused with where it is broken; traffic goes on as before.
  await writeFile(stack.routerConfigFiles[0]!, 'model_groups: [\n');
  const refused = await reloadByApi();
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ reloaded: false, problems: [expect.stringMatching(/router-0\.yaml:\d+:\d+ \(yaml\): /)] });
  stack.router.process.kill('SIGHUP');
  await waitUntil(async () => count(stack.router.output(), 'config reload refused') === 2, 10_000, () => stack.router.output());

  // reload-a back, and a new gRPC port, which needs a restart: said, and the router keeps its port.
  await writeRouterConfig((f) => (f.server.grpc.port += 1));
  const reloaded = await reloadByApi();
  expect(reloaded).toEqual({ status: 200, body: { reloaded: true, groups: 1, deployments: 2, restart_only: ['server.grpc'] } });
  const aAgain = served('reload-a');
  await waitUntil(async () => served('reload-a') > aAgain, 10_000, () => 'reload-a got no traffic back');

  const metrics = await (await fetch(`${stack.routerAdmin}/metrics`)).text();
  expect(metrics).toContain('llm_router_config_reloads_total{result="ok"} 2');
  expect(metrics).toContain('llm_router_config_reloads_total{result="refused"} 2');
  // A hundred requests at least, all through the reloads, before the load stops.
  await waitUntil(async () => statuses.length > 100, 20_000, () => `${statuses.length} requests`);
  loading = false;
  await Promise.all(workers);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
}, 60_000);

/**
 * `npm run bench -- --translation` can measure what it says: the stack it starts serves every
 * deployment through the router (each strict mock accepts its provider's requests, Bedrock's
 * signed), JSON and streamed, and the load generator sees each stream's chunks.
 * Timings are not asserted here.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closedLoop } from '../../bench/load.js';
import { startTargets, type Targets } from '../../bench/targets.js';
import { CREDENTIALS, DEPLOYMENTS, workloads } from '../../bench/translation.js';

let targets: Targets;

beforeAll(async () => {
  targets = await startTargets(await mkdtemp(join(tmpdir(), 'bench-translation-smoke-')), { peers: false, variants: [], deployments: DEPLOYMENTS, routerEnv: { ...process.env, ...CREDENTIALS } });
}, 60_000);

afterAll(async () => {
  await targets?.stop();
});

it('every deployment answers through the router, JSON and 50-chunk streams', async () => {
  for (const d of DEPLOYMENTS) {
    const w = workloads(d.name);
    const json = await closedLoop(targets.router.endpoint, w.json, 2, 30_000, 4);
    expect({ deployment: d.name, ok: json.ok, failures: json.failures }).toEqual({ deployment: d.name, ok: 4, failures: [] });
    const streams = await closedLoop(targets.router.endpoint, w.stream, 2, 30_000, 2);
    expect({ deployment: d.name, ok: streams.ok, failures: streams.failures }).toEqual({ deployment: d.name, ok: 2, failures: [] });
    expect(streams.firstChunkMs).toHaveLength(2);
    // Chunks may coalesce on a loaded machine, but 50 sent over ~100 ms never arrive as one read.
    expect(streams.gapMs.length).toBeGreaterThan(0);
  }
  // Plain Envoy reaches the first deployment's mock (the passthrough's reference).
  const plain = targets.list.find((t) => t.name === 'plain')!;
  expect((await closedLoop(plain.endpoint, workloads(DEPLOYMENTS[0]!.name).json, 1, 30_000, 2)).ok).toBe(2);
}, 60_000);

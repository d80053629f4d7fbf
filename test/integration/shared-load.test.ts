/**
 * Load state shared by router replicas through real Redis: two routers behind one Envoy balance
 * in-flight requests with least-busy, and no request stays counted however it ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startStack, type Stack } from '../support/stack.js';

let redis: TestRedis;
let stack: Stack;
const BUSY = ['busy-a', 'busy-b', 'busy-c'];

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    redisUrl: redis.url,
    routers: 2,
    groups: { busy: { strategy: 'least-busy' } },
    deployments: BUSY.map((name) => ({ name, group: 'busy', behaviour: { latency_ms: 150, ttft_ms: 150, chunks: 5, chunk_interval_ms: 20 } })),
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
});

const body = (stream = false) => ({ model: 'busy', stream, messages: [{ role: 'user', content: 'hello' }] });

async function inFlightEverywhere(): Promise<number[]> {
  const out: number[] = [];
  for (const replica of stack.routerAdmins.keys()) {
    const load = (await (await stack.adminFetch('/load', {}, replica)).json()) as { data: Record<string, { inFlight: number }> };
    out.push(...BUSY.map((d) => load.data[d]!.inFlight));
  }
  return out;
}

/**
 * The in-flight counts once every request has been released, or after 3 s. The router learns that a
 * request ended when Envoy closes its ext_proc stream, a moment after the client has its answer.
 */
async function inFlightSettled(): Promise<number[]> {
  const deadline = Date.now() + 3000;
  let counts = await inFlightEverywhere();
  while (counts.some((c) => c !== 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    counts = await inFlightEverywhere();
  }
  return counts;
}

describe('least-busy across two replicas sharing Redis', () => {
  it('keeps in-flight per deployment within ±2 of the mean under 32 concurrent clients', async () => {
    // Long enough that a burst of CPU contention (other suites' teardown on a 2-core CI machine)
    // does not decide the share on its own.
    const until = Date.now() + 7000;
    let failures = 0;
    const clients = Array.from({ length: 32 }, async () => {
      while (Date.now() < until) {
        const res = await postChat(stack.url, body());
        if (res.status !== 200) failures++;
        await res.arrayBuffer();
        // Think time, as real clients have: without it all 32 move in lockstep waves, and samples
        // taken while a wave drains show the deployments it reached first emptying first.
        await new Promise((r) => setTimeout(r, Math.random() * 30));
      }
    });
    const samples: number[][] = [];
    await new Promise((r) => setTimeout(r, 1000)); // ramp-up
    while (Date.now() < until - 300) {
      samples.push(BUSY.map((d) => stack.mocks[d]![0]!.stats().inFlight));

      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(clients);
    expect(failures).toBe(0);
    expect(samples.length).toBeGreaterThan(100);
    // In-flight counts move with completions as well as with decisions: when several requests on one
    // deployment finish together it briefly holds fewer, until new arrivals refill it. And a replica
    // cannot see the other's decision of the last millisecond (its increment is still on the way to
    // Redis). Measured here: one replica keeps ~98% of samples within ±2 of the mean, two ~93-98%,
    // the worst sample at ±3-4.3, once ±5.3 in a CI run (one sample of ~600, while CPU contention
    // held completions back). So: ±2 in at least 90% of samples, the 99th percentile within ±4, and
    // equal on average within ±1 (docs/decisions.md, "Shared load across replicas").
    const deviation = (s: number[]) => {
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      return Math.max(...s.map((x) => Math.abs(x - mean)));
    };
    const within2 = samples.filter((s) => deviation(s) <= 2).length / samples.length;
    const deviations = samples.map(deviation).sort((a, b) => a - b);
    const p99 = deviations[Math.ceil(deviations.length * 0.99) - 1]!;
    process.stdout.write(`least-busy: ${(within2 * 100).toFixed(1)}% of ${samples.length} samples within ±2; p99 deviation ${p99.toFixed(2)}, worst ${deviations.at(-1)!.toFixed(2)}\n`);
    expect(within2).toBeGreaterThanOrEqual(0.9);
    expect(p99).toBeLessThanOrEqual(4);
    const averages = BUSY.map((_, i) => samples.reduce((a, s) => a + s[i]!, 0) / samples.length);
    expect(Math.max(...averages) - Math.min(...averages)).toBeLessThanOrEqual(1);
    // Both replicas routed: Envoy spreads ext_proc streams over them.
    for (const admin of stack.routerAdmins) expect(await (await fetch(`${admin}/metrics`)).text()).toMatch(/llm_router_routed_total\{group="busy",strategy="least-busy",deployment="busy-a"\} \d+/);
    expect(await inFlightSettled()).toEqual([0, 0, 0, 0, 0, 0]);
  }, 30_000);

  it('releases the in-flight count of cancelled streams and failed requests', async () => {
    const aborts = Array.from({ length: 12 }, async () => {
      const controller = new AbortController();
      const res = await postChat(stack.url, body(true), {}, controller.signal);
      const reader = res.body!.getReader();
      await reader.read(); // the stream has started
      controller.abort();
      await reader.read().catch(() => undefined);
    });
    const failing = Array.from({ length: 12 }, async () => {
      const res = await postChat(stack.url, body(), { 'x-mock-status': '500' });
      await res.arrayBuffer();
      // 500 from the provider, or 503 once Envoy's outlier detection has ejected it.
      expect([500, 503]).toContain(res.status);
    });
    await Promise.all([...aborts, ...failing]);
    expect(await inFlightSettled()).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

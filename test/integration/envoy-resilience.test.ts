/**
 * Envoy does the transport work with the shipped settings: a 503 from one host is retried on
 * another host of the same deployment, and a host that keeps failing is ejected — also when it is
 * the only host (max_ejection_percent: 100).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'two-hosts', group: 'retry-group', hosts: 2 },
      { name: 'one-host', group: 'eject-group' },
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

const chat = (model: string) => postChat(stack.url, { model, messages: [{ role: 'user', content: 'hi' }] });

it('retries a 503 from one host on the other host of the same cluster', async () => {
  const [broken, healthy] = stack.mocks['two-hosts']!;
  broken!.setBehaviour({ status: 503 });
  const before = (await stack.stats('^cluster\\.two-hosts\\.upstream_rq_retry$'))['cluster.two-hosts.upstream_rq_retry'] ?? 0;
  for (let i = 0; i < 6; i++) {
    const res = await chat('retry-group');
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  const after = await stack.stats('^cluster\\.two-hosts\\.(upstream_rq_retry|upstream_rq_retry_success)$');
  expect(broken!.stats().statuses['503']).toBeGreaterThan(0);
  expect(healthy!.stats().statuses['200']).toBe(6);
  // Each 503 the broken host gave was retried, and each retry succeeded on the healthy host.
  expect(after['cluster.two-hosts.upstream_rq_retry']! - before).toBe(broken!.stats().statuses['503']);
  expect(after['cluster.two-hosts.upstream_rq_retry_success']).toBeGreaterThan(0);
  broken!.setBehaviour({ status: 200 });
});

it('ejects the only host of a deployment after consecutive 5xx; the router cools it down and says when to come back', async () => {
  const [host] = stack.mocks['one-host']!;
  host!.setBehaviour({ status: 500 });
  // consecutive_5xx: 3. The request is tried 4 times (num_retries: 3), in the only deployment it has.
  const failed = await chat('eject-group');
  await failed.arrayBuffer();
  expect(failed.status).toBe(500);
  expect(host!.stats().requests).toBe(4);
  const stats = await stack.stats('^cluster\\.one-host\\.outlier_detection\\.');
  expect(stats['cluster.one-host.outlier_detection.ejections_enforced_consecutive_5xx']).toBeGreaterThanOrEqual(1);
  const clusters = await (await fetch(`${stack.envoyAdmin}/clusters`)).text();
  expect(clusters).toMatch(/one-host::127\.0\.0\.1:\d+::health_flags::\/failed_outlier_check/);
  // Each attempt reached the router's upstream filter: 4 failures (allowed_fails: 3) cool the
  // deployment, and the next request is refused before Envoy routes it, with a 429 that says when
  // to come back.
  const cooling = await chat('eject-group');
  expect(cooling.status).toBe(429);
  expect(Number(cooling.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(((await cooling.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  expect(host!.stats().requests).toBe(4);
  host!.setBehaviour({ status: 200 });
});

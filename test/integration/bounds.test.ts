/**
 * Nothing a client chooses grows the router's state, through real Envoy (keys off, the shipped
 * default): the token it presents makes no usage aggregate of its own, its x-request-id neither
 * joins another request's attempts nor grows the records, and a long model name stays out of the logs.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { waitUntil } from '../../src/devstack/processes.js';
import type { AttemptRecord } from '../../src/pipeline/attempts.js';
import { MAX_LOGGED_CHARS } from '../../src/telemetry/logger.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let started = 0;

beforeAll(async () => {
  started = Date.now();
  stack = await startStack({
    groups: { flaky: { fallbacks: ['held'] } },
    deployments: [
      { name: 'quick-a', group: 'quick' },
      { name: 'flaky-a', group: 'flaky', behaviour: { status: 500 } },
      // Streams one chunk, then holds the stream open until the client goes away.
      { name: 'held-a', group: 'held', behaviour: { stall_after_chunks: 1 } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const hi = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** The router's `request` log lines carrying this x-request-id, once there are `count` of them. */
async function requestLines(requestId: string, count: number): Promise<Array<Record<string, unknown>>> {
  let lines: Array<Record<string, unknown>> = [];
  await waitUntil(
    async () => {
      lines = (await readFile(stack.router.logFile!, 'utf8'))
        .split('\n')
        .filter((l) => l.includes('"msg":"request"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.requestId === requestId);
      return lines.length >= count;
    },
    10_000,
    () => `${lines.length} of ${count} log lines for ${requestId}`,
  );
  return lines;
}

describe('who pays without virtual keys', () => {
  it('counts every caller as anonymous: random tokens make no per-day aggregates of their own', async () => {
    const tokens = Array.from({ length: 5 }, () => `sk-random-${randomBytes(8).toString('hex')}`);
    for (const token of tokens) {
      const res = await postChat(stack.url, hi('quick'), { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    await waitUntil(async () => (await stack.usageTotals('key', 'anonymous', started)).requests >= tokens.length, 10_000, () => 'usage not recorded');
    for (const token of tokens) expect((await stack.usageTotals('key', hashKey(token).slice(0, 16), started)).requests).toBe(0);
    const records = (await stack.usageLog()).filter((r) => r.requestedModel === 'quick');
    expect(new Set(records.map((r) => r.keyId))).toEqual(new Set(['anonymous']));
  });
});

describe('x-request-id is the client’s: a name in the logs, nothing more', () => {
  it('two requests sending the same x-request-id keep their own attempts', async () => {
    const shared = `shared-${randomBytes(6).toString('hex')}`;
    // A: its first attempt fails (500), Envoy falls back to held-a, which streams and then holds.
    const abort = new AbortController();
    const a = await postChat(stack.url, hi('flaky', { stream: true }), { 'x-request-id': shared }, abort.signal);
    expect(a.status).toBe(200);
    const reader = a.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // B, while A is still open, with the same id.
    const b = await postChat(stack.url, hi('quick'), { 'x-request-id': shared });
    expect(b.status).toBe(200);
    await b.arrayBuffer();
    abort.abort();
    await reader.closed.catch(() => {});
    const lines = await requestLines(shared, 2);
    const attemptsOf = (model: string) => {
      const line = lines.find((l) => l.requestedModel === model)!;
      return ((line.routing as { attempts: AttemptRecord[] }).attempts ?? []).map((r) => [r.attempt, r.deployment, r.result]);
    };
    expect(attemptsOf('quick')).toEqual([[1, 'quick-a', 'ok']]);
    expect(attemptsOf('flaky')).toEqual([
      [1, 'flaky-a', 'failed'],
      [2, 'held-a', 'ok'],
    ]);
  });

  it('a long x-request-id or model name is clipped in log lines and usage records', async () => {
    // Below the mock provider's own header limit (Node's 16 KiB); Envoy takes up to 60 KiB.
    const longId = `long-${'x'.repeat(10_000)}`;
    const res = await postChat(stack.url, hi('quick'), { 'x-request-id': longId });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const clippedId = `${longId.slice(0, MAX_LOGGED_CHARS)}…`;
    await waitUntil(async () => (await stack.usageLog(10)).some((r) => r.requestId === clippedId), 10_000, () => 'no usage record with the clipped id');
    const [line] = await requestLines(clippedId, 1);
    expect(JSON.stringify(line).length).toBeLessThan(8_000);

    const modelId = `model-${randomBytes(6).toString('hex')}`;
    const unknown = await postChat(stack.url, hi('m'.repeat(1_000_000)), { 'x-request-id': modelId });
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    const [refused] = await requestLines(modelId, 1);
    expect(refused!.requestedModel).toBe(`${'m'.repeat(MAX_LOGGED_CHARS)}…`);
  });
});

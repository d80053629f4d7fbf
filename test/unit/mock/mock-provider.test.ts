/** The mock provider is part of the product: its faults must be real on the wire. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';

let mock: MockInstance;
const url = () => `http://127.0.0.1:${mock.port}/v1/chat/completions`;
const chat = (body: object, headers: Record<string, string> = {}) =>
  fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'abcdefgh' }], ...body }) });

beforeAll(async () => {
  mock = await startMockInstance({ name: 'm', port: 0, behaviour: { chunks: 4 } });
});
afterAll(async () => {
  await mock.close();
});

describe('mock provider', () => {
  it('answers JSON with deterministic usage and counts what it reported', async () => {
    mock.reset();
    const body = (await (await chat({})).json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(body.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4 });
    expect(mock.stats()).toMatchObject({ requests: 1, usage: { promptTokens: 2, completionTokens: 4 }, statuses: { 200: 1 } });
  });

  it('sends error statuses with Retry-After and an OpenAI error body, per request header', async () => {
    const res = await chat({}, { 'x-mock-status': '429', 'x-mock-retry-after': '2' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(((await (await chat({}, { 'x-mock-status': '503' })).json()) as { error: { type: string } }).error.type).toBe('server_error');
  });

  it('plays a fault script, one step per request, with the error code asked for', async () => {
    mock.enqueue([{ status: 400, error_code: 'content_filter' }, { status: 503 }]);
    const first = await chat({});
    expect(first.status).toBe(400);
    expect(((await first.json()) as { error: { code: string } }).error.code).toBe('content_filter');
    expect((await chat({})).status).toBe(503);
    expect((await chat({})).status).toBe(200);
  });

  it('cuts a stream mid-way: the client sees an error, not a clean end', async () => {
    const res = await chat({ stream: true }, { 'x-mock-cut-after-chunks': '2' });
    await expect(res.text()).rejects.toThrow();
  });

  it('stalls a stream: data stops but the connection stays open', async () => {
    const abort = new AbortController();
    const res = await chat({ stream: true }, { 'x-mock-stall-after-chunks': '1' }).then((r) => r);
    const reader = res.body!.getReader();
    let received = '';
    // However long the first chunk takes to come, nothing follows it (the rest would come at once).
    while (!/"content":"[^"]+"/.test(received)) {
      const next = await reader.read();
      if (next.done) throw new Error('stream ended before its first chunk');
      received += Buffer.from(next.value).toString();
    }
    const after = await Promise.race([reader.read(), new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 300))]);
    expect(after).toBe('stalled');
    expect(received.match(/"content":"[^"]+"/g)).toHaveLength(1);
    abort.abort();
    await reader.cancel();
  });

  it('changes behaviour at runtime and reports health for Envoy', async () => {
    mock.setBehaviour({ health_status: 503, status: 500 });
    expect((await fetch(`http://127.0.0.1:${mock.port}/health`)).status).toBe(503);
    expect((await chat({})).status).toBe(500);
    mock.setBehaviour({ health_status: 200, status: 200 });
    expect((await fetch(`http://127.0.0.1:${mock.port}/health`)).status).toBe(200);
  });

  it('counts its per-minute limits in the clock it is given: a minute boundary resets them, nothing else', async () => {
    let now = Date.UTC(2026, 10, 22, 12, 1, 0) - 1; // 1 ms before a minute boundary
    const limited = await startMockInstance({ name: 'limited', port: 0, behaviour: { limit_requests_per_minute: 2 } }, { limitsClock: () => now });
    try {
      const send = () => fetch(`http://127.0.0.1:${limited.port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
      const statuses = async (n: number) => Promise.all(Array.from({ length: n }, async () => (await send()).status));
      const first = await send();
      expect([first.status, first.headers.get('x-ratelimit-remaining-requests'), first.headers.get('x-ratelimit-reset-requests')]).toEqual([200, '1', '1ms']);
      const refused = (await statuses(2)).sort();
      expect(refused).toEqual([200, 429]);
      now += 1; // the next minute
      expect(await statuses(2)).toEqual([200, 200]);
      now += 59_999; // still that minute
      const last = await send();
      expect([last.status, last.headers.get('retry-after')]).toEqual([429, '1']);
    } finally {
      await limited.close();
    }
  });
});

/**
 * Through real Envoy with the shipped envoy.yaml: the official openai SDK gets completions and
 * streams, traffic splits by weight, and bad input gets OpenAI-format errors without reaching a
 * provider.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat, recordingFetch, streamWithUsage } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'mini-heavy', group: 'gpt-4o-mini', weight: 3, providerModel: 'gpt-4o-mini-2024-07-18', apiKeyEnv: 'TEST_PROVIDER_KEY' },
      { name: 'mini-light', group: 'gpt-4o-mini', weight: 1, providerModel: 'gpt-4o-mini' },
      { name: 'big', group: 'gpt-4o', providerModel: 'gpt-4o-2024-08-06' },
    ],
    routerEnv: { TEST_PROVIDER_KEY: 'sk-provider-heavy' },
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client-key', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

describe('OpenAI SDK through Envoy', () => {
  it("gets a chat completion from the deployment of the requested group: the client's bytes with the provider model id", async () => {
    stack.resetMocks();
    const recording = recordingFetch();
    const sdk = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client-key', maxRetries: 0, fetch: recording.fetch });
    const completion = await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], temperature: 0.5 });
    expect(completion.choices[0]?.message.content).toContain('Hello');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
    const seen = stack.mocks.big![0]!.stats().last;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.text).toBe(recording.sent[0]!.replace('"model":"gpt-4o"', '"model":"gpt-4o-2024-08-06"'));
  });

  it('streams chunks and then usage when include_usage is asked', async () => {
    const { text, usage } = await streamWithUsage(client, 'gpt-4o');
    expect(text).toBe('Hello wörld, this is a mock réponse 日本語 ✓');
    expect(usage).toMatchObject({ completion_tokens: 10, prompt_tokens: 3, total_tokens: 13 });
  });

  it('does not show the usage chunk to a streaming client that did not ask for it, but still asks the provider', async () => {
    stack.resetMocks();
    const recording = recordingFetch();
    const sdk = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client-key', maxRetries: 0, fetch: recording.fetch });
    const stream = await sdk.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBe(12); // role chunk + 10 content chunks + finish chunk
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
    // The client's bytes, with the provider model id and the usage report asked for.
    const sent = recording.sent[0]!.replace('"model":"gpt-4o"', '"model":"gpt-4o-2024-08-06"');
    expect(stack.mocks.big![0]!.stats().last[0]!.text).toBe(`${sent.slice(0, -1)},"stream_options":{"include_usage":true}}`);
  });

  it('lists the model groups at /v1/models', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models.sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it("replaces the client credential with the deployment credential, and never forwards the client's routing header", async () => {
    stack.resetMocks();
    const clientChoice = { headers: { 'x-llm-cluster': 'client-choice', 'x-llm-plan': 'client-choice' } };
    for (let i = 0; i < 40; i++) await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, clientChoice);
    const heavy = stack.mocks['mini-heavy']![0]!.stats().last;
    const light = stack.mocks['mini-light']![0]!.stats().last;
    expect(heavy.length).toBeGreaterThan(0);
    expect(light.length).toBeGreaterThan(0);
    for (const r of heavy) expect(r.authorization).toBe('Bearer sk-provider-heavy');
    for (const r of light) expect(r.authorization).toBeNull();
    for (const r of [...heavy, ...light]) {
      // The router's own: where a retry of this attempt would go (the other deployment of the group).
      expect(['mini-heavy', 'mini-light']).toContain(r.headers['x-llm-cluster']);
      expect(r.headers['x-llm-plan']).toMatch(/^@\S+ mini-(heavy|light) mini-(heavy|light)$/);
      expect(Object.keys(r.headers).filter((h) => h.startsWith('x-envoy-'))).toEqual([]);
    }
  });
});

describe('weighted routing', () => {
  it('splits traffic 3:1 by weight within statistical bounds', async () => {
    stack.resetMocks();
    const total = 400;
    const queue = Array.from({ length: total }, (_, i) => i);
    const worker = async (): Promise<void> => {
      while (queue.pop() !== undefined) {
        const res = await postChat(stack.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const heavy = stack.mocks['mini-heavy']![0]!.stats().requests;
    const light = stack.mocks['mini-light']![0]!.stats().requests;
    expect(heavy + light).toBe(total);
    // Binomial(400, 0.75): sd ≈ 8.7 requests; ±5 sd keeps a false failure below one in a million.
    expect(Math.abs(heavy - 300)).toBeLessThan(44);
  });
});

describe('under concurrency', () => {
  it('serves 64 concurrent 100 KB prompts without a refused ext_proc stream', async () => {
    // Envoy multiplexes them all over its HTTP/2 connection to the router, 100 KB gRPC messages each.
    const content = 'x'.repeat(100_000);
    for (let round = 0; round < 3; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 64 }, async () => {
          const res = await postChat(stack.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    }
  });
});

describe('sustained load', () => {
  it('loses no request past Node\'s HTTP/2 rapid-reset guard (over 1,000 ext_proc streams on one connection)', async () => {
    stack.resetMocks();
    let next = 0;
    const failures: number[] = [];
    const worker = async (): Promise<void> => {
      while (next++ < 2500) {
        const res = await postChat(stack.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
        await res.arrayBuffer();
        if (res.status !== 200) failures.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(failures).toEqual([]);
    const connections = await stack.stats('^cluster\\.llm_router\\.upstream_cx_total$');
    expect(connections['cluster.llm_router.upstream_cx_total']).toBe(1);
  });
});

describe('bad input never reaches a provider', () => {
  const post = (body: string, headers: Record<string, string> = {}) => postChat(stack.url, body, headers);

  const cases: Array<[string, () => Promise<Response>, number, string, string | null]> = [
    ['malformed JSON', () => post('{"model": "gpt-4o", '), 400, 'invalid_json', null],
    ['a JSON array', () => post('[1,2]'), 400, 'invalid_request', null],
    ['missing model', () => post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })), 400, 'invalid_request', 'model'],
    ['model of the wrong type', () => post(JSON.stringify({ model: 4, messages: [{ role: 'user', content: 'x' }] })), 400, 'invalid_request', 'model'],
    ['missing messages', () => post(JSON.stringify({ model: 'gpt-4o' })), 400, 'invalid_request', 'messages'],
    ['empty messages', () => post(JSON.stringify({ model: 'gpt-4o', messages: [] })), 400, 'invalid_request', 'messages'],
    ['a message without role', () => post(JSON.stringify({ model: 'gpt-4o', messages: [{ content: 'x' }] })), 400, 'invalid_request', 'messages[0]'],
    ['stream not a boolean', () => post(JSON.stringify({ model: 'gpt-4o', stream: 'yes', messages: [{ role: 'user', content: 'x' }] })), 400, 'invalid_request', 'stream'],
    ['negative max_tokens', () => post(JSON.stringify({ model: 'gpt-4o', max_tokens: -1, messages: [{ role: 'user', content: 'x' }] })), 400, 'invalid_request', 'max_tokens'],
    ['no body', () => fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }), 400, 'missing_body', null],
    ['unknown model', () => post(JSON.stringify({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] })), 404, 'model_not_found', 'model'],
    ['a body over the limit', () => post(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(4_300_000) }] })), 413, 'body_too_large', null],
    ['a non-JSON content type', () => post('hello', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', null],
    ['an unknown path', () => fetch(`${stack.url}/v1/nothing`), 404, 'not_found', null],
    ['GET on chat completions', () => fetch(`${stack.url}/v1/chat/completions`), 405, 'method_not_allowed', null],
  ];

  it.each(cases)('%s → %i %s', async (_name, send, status, code, param) => {
    stack.resetMocks();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.param).toBe(param);
    expect(body.error.type).toMatch(/_error$/);
    expect(body.error.message.length).toBeGreaterThan(10);
    expect(stack.mockRequests()).toBe(0);
  });

  it('a chunked body over Envoy\'s buffer limit gets Envoy\'s 413, in OpenAI format too', async () => {
    stack.resetMocks();
    const huge = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(9_000_000) }] });
    // A stream body has no content-length, so the router cannot refuse it at request headers.
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(huge));
        controller.close();
      },
    });
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { message: 'The request body is larger than the gateway accepts.', type: 'invalid_request_error', param: null, code: 'body_too_large' } });
    expect(stack.mockRequests()).toBe(0);
  });

  it('rejects a client-supplied routing header: the router decides the cluster', async () => {
    stack.resetMocks();
    const res = await postChat(stack.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-cluster': 'big' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(stack.mocks.big![0]!.stats().requests).toBe(0);
  });
});

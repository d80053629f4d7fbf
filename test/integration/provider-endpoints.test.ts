/**
 * Each deployment is called as its provider's API expects, through real Envoy: at its own path
 * (Azure's deployment path and api-version), with its credential in its own header — on the first
 * attempt and on a fallback hop to another provider, which must carry nothing of the previous
 * deployment's — and with the router's own request fields removed. Every mock is strict: it refuses
 * what the real API refuses (an unknown parameter, a wrong path, api-version or credential header).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const AZURE = { name: 'azure', key: 'azure-secret', providerModel: 'my-gpt-deployment' };
const OPENAI = { name: 'openai', key: 'sk-openai-secret' };
const CUSTOM = { name: 'proxy', key: 'proxy-secret' };


beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: AZURE.name, group: 'chat', providerModel: AZURE.providerModel, apiKeyEnv: 'KEY_AZURE', extra: { provider: 'azure-openai' }, mock: { strict: true } },
      { name: OPENAI.name, group: 'backup', apiKeyEnv: 'KEY_OPENAI', mock: { strict: true } },
      {
        name: CUSTOM.name,
        group: 'custom',
        apiKeyEnv: 'KEY_CUSTOM',
        extra: { provider: 'openai-compatible', endpoint: { base_path: '/v1', auth: 'x-api-key', headers: { 'x-gateway-route': 'edge' } } },
      },
    ],
    groups: { chat: { fallbacks: ['backup'] } },
    routerEnv: { KEY_AZURE: AZURE.key, KEY_OPENAI: OPENAI.key, KEY_CUSTOM: CUSTOM.key },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const client = (baseURL: string) => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });

describe('provider endpoints and auth', () => {
  it("Azure: the deployment's path with api-version, the key in api-key, never the client's or a bearer token", async () => {
    stack.resetMocks();
    const res = await client(`${stack.url}/v1`).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    const seen = stack.lastSeen(AZURE.name);
    expect(seen.path).toBe(`/openai/deployments/${AZURE.providerModel}/chat/completions?api-version=2024-10-21`);
    expect(seen.headers['api-key']).toBe(AZURE.key);
    expect(seen.authorization).toBeNull();
  });

  it("the router's own fields reach no provider: a tagged request passes strict mocks, with the provider's metadata kept", async () => {
    stack.resetMocks();
    const tagged = { model: 'chat', messages: [{ role: 'user' as const, content: 'hi' }], tags: ['team-a'], metadata: { tags: 'x', route_preference: 'cost-first', app: 'web' } };
    const res = await client(`${stack.url}/v1`).chat.completions.create(tagged as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(res.choices[0]!.message.content).toBeTruthy();
    const body = stack.lastSeen(AZURE.name).body as Record<string, unknown>;
    expect(body.tags).toBeUndefined();
    expect(body.metadata).toEqual({ app: 'web' });
    // Streaming too, where the router also asks for the usage report.
    const stream = await client(`${stack.url}/v1`).chat.completions.create({ ...tagged, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    for await (const chunk of stream) void chunk;
    expect(stack.mock(AZURE.name).stats().statuses).toEqual({ '200': 2 });
  });

  it('a base URL without /v1 still reaches the provider at its own path', async () => {
    stack.resetMocks();
    const res = await client(stack.url).chat.completions.create({ model: 'backup', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(stack.lastSeen(OPENAI.name).path).toBe('/v1/chat/completions');
  });

  it("router.yaml's endpoint: base path, auth style and fixed headers", async () => {
    stack.resetMocks();
    await client(`${stack.url}/v1`).chat.completions.create({ model: 'custom', messages: [{ role: 'user', content: 'hi' }] });
    const seen = stack.lastSeen(CUSTOM.name);
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers['x-api-key']).toBe(CUSTOM.key);
    expect(seen.headers['x-gateway-route']).toBe('edge');
    expect(seen.authorization).toBeNull();
  });

  it("a fallback hop to another provider gets its own path and credential, and none of the previous deployment's", async () => {
    stack.resetMocks();
    stack.mock(AZURE.name).setBehaviour({ status: 503 });
    const res = await client(`${stack.url}/v1`).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(stack.mock(AZURE.name).stats().statuses).toEqual({ '503': 1 });
    const seen = stack.lastSeen(OPENAI.name);
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.authorization).toBe(`Bearer ${OPENAI.key}`);
    expect(seen.headers['api-key']).toBeUndefined();
    expect((await stack.usageLog(1))[0]!.deployment).toBe(OPENAI.name);
  });
});

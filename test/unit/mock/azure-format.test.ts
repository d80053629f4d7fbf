/** The Azure OpenAI mock (strict by default) answers only at deployment paths, with api-key and a published api-version. */
import { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';

const KEY = 'azure-key-1';
const VERSION = '2024-10-21';
let mock: MockInstance;
const CHAT = { messages: [{ role: 'user', content: 'abcdefgh' }] };
const post = (path: string, body: unknown, headers: Record<string, string> = { 'api-key': KEY }) =>
  fetch(`http://127.0.0.1:${mock.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const chatPath = (deployment = 'gpt4o-prod', query = `?api-version=${VERSION}`) => `/openai/deployments/${deployment}/chat/completions${query}`;

beforeAll(async () => {
  mock = await startMockInstance({ name: 'azure', port: 0, format: 'azure-openai', api_key: KEY, deployments: ['gpt4o-prod', 'embed'], behaviour: { chunks: 2 } });
});
afterAll(async () => {
  await mock.close();
});

const azure = (code: string, message: string) => ({ error: { code, message } });
const INVALID_KEY = azure('401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');

describe('Azure OpenAI mock', () => {
  it.each<[string, () => Promise<Response>, number, unknown]>([
    ["OpenAI's path", () => post('/v1/chat/completions', { model: 'gpt-4o', ...CHAT }), 404, azure('404', 'Resource not found')],
    ['no api-version', () => post(chatPath('gpt4o-prod', ''), CHAT), 404, azure('404', 'Resource not found')],
    ['an api-version Azure never published', () => post(chatPath('gpt4o-prod', '?api-version=2023-01-01'), CHAT), 400, azure('BadRequest', 'API version not supported')],
    ['no api-key', () => post(chatPath(), CHAT, {}), 401, INVALID_KEY],
    ['a wrong api-key', () => post(chatPath(), CHAT, { 'api-key': 'other' }), 401, INVALID_KEY],
    [
      'the key as a Bearer token only',
      () => post(chatPath(), CHAT, { authorization: `Bearer ${KEY}` }),
      401,
      azure('401', 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.'),
    ],
    [
      'a deployment the resource does not have',
      () => post(chatPath('gpt-4o'), CHAT),
      404,
      azure('DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.'),
    ],
    [
      'an unknown parameter (OpenAI-shaped, as Azure answers body errors)',
      () => post(chatPath(), { ...CHAT, tags: ['a'] }),
      400,
      { error: { message: 'Unrecognized request argument supplied: tags', type: 'invalid_request_error', param: null, code: null } },
    ],
  ])('rejects %s', async (_, send, status, body) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(body);
  });

  it('serves chat at the deployment path without a model in the body, and embeddings', async () => {
    mock.reset();
    const chat = await post(chatPath(), CHAT);
    expect(chat.status).toBe(200);
    expect(((await chat.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Hello wörld');
    const embed = await post(`/openai/deployments/embed/embeddings?api-version=${VERSION}`, { input: 'hello' });
    expect(embed.status).toBe(200);
    expect(mock.stats()).toMatchObject({ format: 'azure-openai', strict: true, requests: 1, embeddingRequests: 1 });
    expect(mock.stats().last[0]).toMatchObject({ path: chatPath(), headers: { 'api-key': KEY } });
  });

  it('serves the official SDK’s AzureOpenAI client (JSON and a stream with usage)', async () => {
    const client = new AzureOpenAI({ apiKey: KEY, endpoint: `http://127.0.0.1:${mock.port}`, apiVersion: VERSION, deployment: 'gpt4o-prod', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'abcdefgh' }] });
    expect(completion.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 2 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'abcdefgh' }], stream: true, stream_options: { include_usage: true } });
    let usage: unknown;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage).toMatchObject({ total_tokens: 4 });
  });
});

/**
 * `/v1/embeddings` through real Envoy with the openai SDK: routed to the deployments that embed,
 * failed over like chat, billed from the provider's usage (also for a batch too large to parse
 * whole), and refused with a 400 — nothing sent upstream — when the request cannot be served.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let client: OpenAI;
const EMBEDDING = { capabilities: ['embeddings'], provider_model: 'text-embedding-3-small', price: { input_per_million: 0.02, output_per_million: 0 }, context_window: 8191 };

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'embed-a', group: 'embed', extra: EMBEDDING },
      { name: 'embed-b', group: 'embed', extra: EMBEDDING },
      { name: 'chat-only', group: 'chat' },
    ],
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
}, 60_000);

afterAll(async () => stack?.stop());

const embedded = () => stack.mocks['embed-a']![0]!.stats().usage.promptTokens + stack.mocks['embed-b']![0]!.stats().usage.promptTokens;

it('embeds through the gateway and bills what the provider reported, also for a 200-input batch', async () => {
  stack.resetMocks();
  const one = await client.embeddings.create({ model: 'embed', input: ['hello world', 'goodbye'] });
  expect(one.data.map((d) => d.index)).toEqual([0, 1]);
  expect(one.data[0]!.embedding.length).toBeGreaterThan(0);
  const batch = await client.embeddings.create({ model: 'embed', input: Array.from({ length: 200 }, (_, i) => `document number ${i} about routing`) });
  expect(batch.data).toHaveLength(200);
  expect(batch.usage.prompt_tokens).toBeGreaterThan(1000);

  const records = (await stack.usageLog()).slice(-2);
  expect(records.map((r) => [r.requestedModel, r.providerModel, r.status, r.completionTokens])).toEqual([
    ['embed', 'text-embedding-3-small', 200, 0],
    ['embed', 'text-embedding-3-small', 200, 0],
  ]);
  expect(records.map((r) => r.promptTokens)).toEqual([one.usage.prompt_tokens, batch.usage.prompt_tokens]);
  expect(records.reduce((n, r) => n + r.promptTokens, 0)).toBe(embedded());
  expect(records[1]!.costNanos).toBe(batch.usage.prompt_tokens * 20); // $0.02 per million = 20 nano-USD per token
});

it('a deployment answering 503: Envoy retries on the other, every request succeeds', async () => {
  stack.resetMocks();
  stack.mocks['embed-a']![0]!.setBehaviour({ status: 503 });
  try {
    for (let i = 0; i < 10; i++) expect((await client.embeddings.create({ model: 'embed', input: `text ${i}` })).data).toHaveLength(1);
    expect(stack.mocks['embed-b']![0]!.stats().statuses['200']).toBe(10);
  } finally {
    stack.mocks['embed-a']![0]!.setBehaviour({ status: 200 });
  }
});

it('a chat model asked for embeddings, and bad input: 400 from the router, nothing sent to a provider', async () => {
  stack.resetMocks();
  await expect(client.embeddings.create({ model: 'chat', input: 'hi' })).rejects.toMatchObject({ status: 400, code: 'unsupported_request' });
  await expect(client.embeddings.create({ model: 'embed', input: [] })).rejects.toMatchObject({ status: 400, code: 'invalid_request', param: 'input' });
  await expect(client.chat.completions.create({ model: 'embed', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400, code: 'unsupported_request' });
  const seen = Object.values(stack.mocks).flat().reduce((n, m) => n + m.stats().requests + m.stats().embeddingRequests, 0);
  expect(seen).toBe(0);
});

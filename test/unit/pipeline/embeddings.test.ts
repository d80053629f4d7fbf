/** `/v1/embeddings` through the pipeline: validated, routed to deployments that embed, sized for admission. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { parseEmbeddingsRequest } from '../../../src/pipeline/api-request.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { Outcome } from '../../../src/pipeline/types.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { PromptTokenCounter } from '../../../src/routing/tokens.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { fixedEnv } from '../../support/fixtures.js';

const YAML = `
model_groups:
  - {name: chat}
  - {name: embed}
deployments:
  - {name: c, provider: openai, model_group: chat, provider_model: chat-model, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000}
  - {name: e, provider: openai, model_group: embed, provider_model: text-embedding-3-small, price: {input_per_million: 0.02, output_per_million: 0}, context_window: 8191, capabilities: [embeddings], api_key_env: KEY_E}
`;
const config = parseConfig(YAML, 'router.yaml', { KEY_E: 'sk-e' });
const HEADERS = { ':method': 'POST', ':path': '/v1/embeddings', 'content-type': 'application/json', 'x-request-id': 'r1' };
const body = (o: unknown) => Buffer.from(JSON.stringify(o));

async function send(path: string, payload: unknown): Promise<Outcome> {
  const p = new Pipeline(config, new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 }), fixedEnv([0.1]), pino({ level: 'silent' }));
  const x = p.exchange();
  x.onRequestHeaders({ ...HEADERS, ':path': path }, false);
  return x.onRequestBody(body(payload));
}

const errorOf = (o: Outcome) => {
  if (o.kind !== 'reply') throw new Error(`expected a reply, got ${o.kind}`);
  return { status: o.status, error: (JSON.parse(o.body.toString()) as { error: { code: string; param: string | null; message: string } }).error };
};

describe('embeddings', () => {
  it('routes to a deployment that embeds, with its credential and model id', async () => {
    const out = await send('/v1/embeddings', { model: 'embed', input: ['a', 'b'] });
    if (out.kind !== 'continue') throw new Error('expected continue');
    expect(out.setHeaders).toContainEqual(['x-llm-cluster', 'e']);
    expect(out.setHeaders).toContainEqual(['authorization', 'Bearer sk-e']);
    expect(JSON.parse(out.body!.toString())).toEqual({ model: 'text-embedding-3-small', input: ['a', 'b'] });
  });

  it('a chat model asked for embeddings, or an embeddings model asked to chat: 400, which no retry would change', async () => {
    expect(errorOf(await send('/v1/embeddings', { model: 'chat', input: 'a' }))).toMatchObject({ status: 400, error: { code: 'unsupported_request', param: 'model', message: expect.stringContaining('c: capability (lacks embeddings)') } });
    expect(errorOf(await send('/v1/chat/completions', { model: 'embed', messages: [{ role: 'user', content: 'hi' }] }))).toMatchObject({ status: 400, error: { code: 'unsupported_request' } });
  });

  it.each([
    [{ model: 'embed' }, "Missing required parameter: 'input'."],
    [{ model: 'embed', input: '' }, "Invalid 'input'"],
    [{ model: 'embed', input: [] }, "Invalid 'input'"],
    [{ model: 'embed', input: ['a', 3] }, "Invalid 'input'"],
    [{ model: 'embed', input: [[1, 2], []] }, "Invalid 'input'"],
    [{ model: 'embed', input: 'a', dimensions: 0 }, "Invalid 'dimensions'"],
  ])('%j → 400: %s', async (payload, message) => {
    expect(errorOf(await send('/v1/embeddings', payload))).toMatchObject({ status: 400, error: { code: 'invalid_request', message: expect.stringContaining(message) } });
  });

  it('sizes the input for admission: text by its bound, token ids as they are, no completion', () => {
    const routing = config.routing;
    const tokenIds = routeRequestOf(parseEmbeddingsRequest(JSON.stringify({ model: 'embed', input: [[1, 2, 3], [4, 5]] })).body, {}, routing, null, 'embeddings');
    expect([tokenIds.promptTokensBound, new PromptTokenCounter(tokenIds.prompt).tokens(), tokenIds.maxTokens, [...tokenIds.needs]]).toEqual([5, 5, 0, ['embeddings']]);
    const text = routeRequestOf(parseEmbeddingsRequest(JSON.stringify({ model: 'embed', input: 'hello world' })).body, {}, routing, null, 'embeddings');
    expect(text.promptTokensBound).toBeGreaterThanOrEqual(2);
  });
});

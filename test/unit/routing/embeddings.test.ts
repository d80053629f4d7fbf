/**
 * `auto` with an embeddings endpoint (the mock provider's /v1/embeddings): examples embedded at start,
 * the prompt per request, and the local matcher when the endpoint fails.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { embedExamples } from '../../../src/providers/openai/embeddings.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { fixedEnv } from '../../support/fixtures.js';

let mock: MockInstance;
const log = pino({ level: 'silent' });

const yaml = (port: number) => `
model_groups: [{name: coding}, {name: creative}, {name: general}]
deployments:
  - {name: c, provider: openai, model_group: coding, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 128000}
  - {name: p, provider: openai, model_group: creative, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 128000}
  - {name: g, provider: openai, model_group: general, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 128000}
virtual_models:
  - name: auto
    default_group: general
    rules: [{name: code-block, group: coding, when: {regex: "\`\`\`"}}]
    semantic:
      threshold: 0.3
      embeddings: {url: "http://127.0.0.1:${port}/v1/embeddings", model: mock-embed, timeout_ms: 500}
      routes:
        - {group: coding, examples: [write a python function, fix this javascript bug, implement quicksort in rust]}
        - {group: creative, examples: [write a poem about the sea, compose a love song, a haiku about autumn]}
`;

beforeAll(async () => {
  mock = await startMockInstance({ name: 'embed', port: 0 });
});
afterAll(async () => {
  await mock?.close();
});

async function routedGroup(p: Pipeline, content: string): Promise<string> {
  const x = p.exchange();
  x.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' }, false);
  const out = await x.onRequestBody(Buffer.from(JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] })));
  if (out.kind !== 'continue') throw new Error(JSON.stringify(out));
  return out.setHeaders.find(([h]) => h === 'x-llm-cluster')![1];
}

describe('auto with an embeddings endpoint', () => {
  it('embeds the examples once at start and each prompt no rule decides', async () => {
    const config = parseConfig(yaml(mock.port), 'router.yaml', {});
    const examples = await embedExamples(config, log);
    expect(examples.get('auto')).toHaveLength(6);
    expect(mock.stats().embeddingRequests).toBe(1);
    const p = new Pipeline(config, new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 }), fixedEnv(), log, examples);
    expect(await routedGroup(p, 'Write a Python function that reverses a list')).toBe('c');
    expect(await routedGroup(p, 'Write a poem about the sea at night')).toBe('p');
    expect(await routedGroup(p, 'zzz qqq')).toBe('g');
    expect(mock.stats().embeddingRequests).toBe(4);
    expect(await routedGroup(p, 'what does ```x``` do')).toBe('c'); // a rule decides: no embedding
    expect(mock.stats().embeddingRequests).toBe(4);
  });

  it('classifies locally when the endpoint fails, at start or per request', async () => {
    const config = parseConfig(yaml(mock.port), 'router.yaml', {});
    const examples = await embedExamples(config, log);
    const p = new Pipeline(config, new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 }), fixedEnv(), log, examples);
    await mock.close();
    expect(await routedGroup(p, 'Write a poem about the sea at night')).toBe('p');
    const unreachable = parseConfig(yaml(1), 'router.yaml', {});
    const none = await embedExamples(unreachable, log);
    expect(none.size).toBe(0);
    const local = new Pipeline(unreachable, new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 }), fixedEnv(), log, none);
    expect(await routedGroup(local, 'implement quicksort in rust please')).toBe('c');
  });
});

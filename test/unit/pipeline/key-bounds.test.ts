/** Shedding's degrade_to is a fallback too: a key is degraded only to a group it may use, unless it opts in. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../../src/auth/keys.js';
import { parseConfig } from '../../../src/config/load.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { Outcome } from '../../../src/pipeline/types.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { fixedEnv } from '../../support/fixtures.js';

const d = (name: string, group: string) =>
  `  - {name: ${name}, provider: openai, model_group: ${group}, provider_model: ${name}-model, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000}`;
const YAML = `
auth: {mode: keys}
keys:
  - {name: strict, key_sha256: ${hashKey('sk-strict')}, tier: free, models: [big]}
  - {name: crossing, key_sha256: ${hashKey('sk-crossing')}, tier: free, models: [big], fallbacks_beyond_models: true}
shedding: [{tier: free, max_in_flight: 1, degrade_to: small}]
model_groups: [{name: big}, {name: small}]
deployments:
${d('big-a', 'big')}
${d('small-a', 'small')}
`;

async function send(p: Pipeline, key: string): Promise<Outcome> {
  const x = p.exchange();
  x.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', authorization: `Bearer ${key}` }, false);
  return x.onRequestBody(Buffer.from(JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'hi' }] })));
}

describe('shedding within the key’s models', () => {
  it('refuses a key the degrade group is not allowed to, and degrades one that opted in', async () => {
    const env = fixedEnv();
    const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    const p = new Pipeline(parseConfig(YAML, 'router.yaml', {}), store, env, pino({ level: 'silent' }));
    await store.requestStarted('big-a', env.now(), 10); // the group is at the free tier's threshold
    expect(await send(p, 'sk-strict')).toMatchObject({ kind: 'reply', status: 503 });
    const degraded = await send(p, 'sk-crossing');
    expect(degraded).toMatchObject({ kind: 'continue' });
    expect(degraded.kind === 'continue' && degraded.setHeaders).toContainEqual(['x-llm-cluster', 'small-a']);
  });
});

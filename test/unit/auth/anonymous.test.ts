/** Who pays with keys off: one shared id by default, per-token ids only up to a daily bound. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AnonymousIds } from '../../../src/auth/anonymous.js';
import { hashKey } from '../../../src/auth/keys.js';
import { parseConfig } from '../../../src/config/load.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { fixedEnv } from '../../support/fixtures.js';

const DAY = Date.UTC(2026, 10, 22);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('AnonymousIds', () => {
  it('by default counts every caller as anonymous, whatever token it presents', () => {
    const ids = new AnonymousIds(0);
    const seen = new Set(Array.from({ length: 1000 }, (_, i) => ids.idOf(bearer(`sk-random-${i}`), DAY)));
    expect([...seen]).toEqual(['anonymous']);
  });

  it('with a daily bound: the first tokens of a day get their own id (a hash prefix, never the token), later ones are anonymous', () => {
    const ids = new AnonymousIds(2);
    const a = hashKey('sk-a').slice(0, 16);
    const b = hashKey('sk-b').slice(0, 16);
    expect(ids.idOf(bearer('sk-a'), DAY)).toBe(a);
    expect(ids.idOf({ 'x-api-key': 'sk-b' }, DAY + 1)).toBe(b);
    expect(ids.idOf(bearer('sk-c'), DAY + 2)).toBe('anonymous');
    expect(ids.idOf(bearer('sk-a'), DAY + 3)).toBe(a); // still its own id, the same day
    expect(ids.idOf({}, DAY + 4)).toBe('anonymous');
    // A new UTC day starts the count again.
    expect(ids.idOf(bearer('sk-c'), DAY + 86_400_000)).toBe(hashKey('sk-c').slice(0, 16));
  });

  it('a config reload carries the day on: its ids still count against the bound', () => {
    const before = new AnonymousIds(1);
    expect(before.idOf(bearer('sk-a'), DAY)).not.toBe('anonymous');
    const after = new AnonymousIds(1, before);
    expect(after.idOf(bearer('sk-b'), DAY + 1)).toBe('anonymous');
    expect(after.idOf(bearer('sk-a'), DAY + 1)).toBe(hashKey('sk-a').slice(0, 16));
  });
});

describe('auth.anonymous_ids_per_day', () => {
  const yaml = (perDay: number) => `
auth: {anonymous_ids_per_day: ${perDay}}
model_groups: [{name: main}]
deployments:
  - {name: a, provider: openai, model_group: main, provider_model: model-a, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000}
`;

  it.each([
    [0, ['anonymous', 'anonymous']],
    [1, [hashKey('sk-first').slice(0, 16), 'anonymous']],
  ])('%i: the usage records of two callers with their own tokens are billed to %j', async (perDay, expected) => {
    const store = new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    const p = new Pipeline(parseConfig(yaml(perDay), 'router.yaml', {}), store, fixedEnv([0.1], DAY), pino({ level: 'silent' }));
    for (const token of ['sk-first', 'sk-second']) {
      const x = p.exchange();
      x.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', ...bearer(token) }, false);
      await x.onRequestBody(Buffer.from(JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'hi' }] })));
      x.onResponseBody(Buffer.from('{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'), true, { status: 200, cluster: 'a', attempt: 1, requestId: null, plan: null, nextCluster: null });
    }
    expect((await store.usageLog(10)).map((r) => r.keyId)).toEqual(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/entry.js';
import { semanticKeyOf } from '../../../src/cache/policy.js';
import { SemanticCache } from '../../../src/cache/semantic.js';
import { MemoryStore } from '../../../src/state/memory.js';

const chat = (content: unknown, extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], ...extra });

describe('semantic key', () => {
  it('compares the last user message and partitions by everything else', () => {
    const a = semanticKeyOf('openai:chat', 'g', 'key:a', chat('What is the capital of France?'))!;
    const b = semanticKeyOf('openai:chat', 'g', 'key:a', chat('capital of France?'))!;
    expect(a.text).toBe('What is the capital of France?');
    expect(b.partition).toBe(a.partition);
    const others = [
      semanticKeyOf('openai:chat', 'g', 'key:a', chat('x', { temperature: 0.5 })),
      semanticKeyOf('openai:chat', 'other', 'key:a', chat('x')),
      semanticKeyOf('openai:chat', 'g', 'key:b', chat('x')),
      semanticKeyOf('openai:chat', 'g', 'key:a', { ...chat('x'), messages: [{ role: 'system', content: 'Be long.' }, { role: 'user', content: 'x' }] }),
      semanticKeyOf('openai:chat', 'g', 'key:a', chat('x', { stream: true })),
    ];
    for (const o of others) expect(o!.partition).not.toBe(a.partition);
  });

  it('takes text parts, and leaves a message with an image (or no text) to the exact cache', () => {
    expect(semanticKeyOf('openai:chat', 'g', 'n', chat([{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }]))!.text).toBe('one\ntwo');
    expect(semanticKeyOf('openai:chat', 'g', 'n', chat([{ type: 'text', text: 'one' }, { type: 'image_url', image_url: { url: 'data:' } }]))).toBeNull();
    expect(semanticKeyOf('openai:chat', 'g', 'n', chat('  '))).toBeNull();
    expect(semanticKeyOf('openai:completions', 'g', 'n', { model: 'm', prompt: 'Say hi' })!.text).toBe('Say hi');
  });
});

const unit = (...xs: number[]) => {
  const n = Math.hypot(...xs);
  return Float32Array.from(xs, (x) => x / n);
};

describe('semantic index', () => {
  const answer = encodeEntry({ contentType: 'application/json', storedAtMs: 0, deployment: 'd', provider: 'openai', providerModel: 'm', responseModel: 'm', costNanos: 5, body: Buffer.from('{}') });

  function setup() {
    let now = 1000;
    const store = new MemoryStore(10, { latencySamples: 5, latencyMaxAgeMs: 1000 });
    const cache = new SemanticCache(store, () => now, (err) => {
      throw err;
    });
    return { store, cache, at: (ms: number) => (now = ms) };
  }

  it('finds the nearest stored prompt above the threshold, and only in its partition', async () => {
    const { store, cache } = setup();
    await store.cacheSet('ns/a', answer, 10_000, 1000);
    await cache.add('g', 'p', 'ns/a', unit(1, 0, 0), 11_000, 100);
    const hit = await cache.find('g', 'p', unit(1, 0.1, 0), 0.9);
    expect(hit?.similarity).toBeCloseTo(0.995, 2);
    expect(await cache.find('g', 'p', unit(0, 1, 0), 0.9)).toBeNull();
    expect(await cache.find('g', 'other', unit(1, 0, 0), 0.9)).toBeNull();
    expect(await cache.find('h', 'p', unit(1, 0, 0), 0.9)).toBeNull();
  });

  it('another router reads the vector from the store and finds the answer', async () => {
    const { store, cache } = setup();
    const other = new SemanticCache(store, () => 1000, (err) => {
      throw err;
    });
    await store.cacheSet('ns/a', answer, 10_000, 1000);
    await cache.add('g', 'p', 'ns/a', unit(0, 0, 1), 11_000, 100);
    await other.sync();
    expect((await other.find('g', 'p', unit(0, 0.05, 1), 0.9))?.entry.costNanos).toBe(5);
  });

  it('drops a pointer whose answer was purged or expired, and the oldest past max entries', async () => {
    const { store, cache, at } = setup();
    await store.cacheSet('ns/a', answer, 10_000, 1000);
    await cache.add('g', 'p', 'ns/a', unit(1, 0, 0), 11_000, 2);
    await store.cachePurge('ns/');
    expect(await cache.find('g', 'p', unit(1, 0, 0), 0.9)).toBeNull();
    expect(cache.size).toBe(0);

    for (const [i, v] of [unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)].entries()) {
      await store.cacheSet(`ns/${i}`, answer, 10_000, 1000);
      await cache.add('g', 'p', `ns/${i}`, v, 2000 + i, 2);
    }
    expect(cache.size).toBe(2);
    expect(await cache.find('g', 'p', unit(1, 0, 0), 0.9)).toBeNull();
    expect(await cache.find('g', 'p', unit(0, 1, 0), 0.9)).not.toBeNull();
    at(2001);
    await cache.sync();
    expect(cache.size).toBe(1);
  });
});

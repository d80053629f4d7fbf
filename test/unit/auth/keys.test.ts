/** Virtual keys: how a key is presented, what it may request, and how lookups are remembered. */
import { describe, expect, it } from 'vitest';
import { hashKey, keyFromRecord, mayRequest, presentedKey, type VirtualKey } from '../../../src/auth/keys.js';
import { KeyResolver } from '../../../src/auth/resolver.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStore } from '../../../src/state/memory.js';

describe('presentedKey', () => {
  it.each([
    [{ authorization: 'Bearer sk-1' }, 'sk-1'],
    [{ authorization: 'bearer  sk-2 ' }, 'sk-2'],
    [{ 'x-api-key': 'sk-3' }, 'sk-3'],
    [{ authorization: 'Basic abc', 'x-api-key': 'sk-4' }, 'sk-4'],
    [{ authorization: 'Bearer ' }, null],
    [{}, null],
  ])('%j → %j', (headers, key) => {
    expect(presentedKey(headers)).toBe(key);
  });
});

describe('keys from router.yaml', () => {
  const yaml = `
keys:
  - {name: a, key_sha256: ${hashKey('sk-a')}, models: [gpt-4o-mini], tier: free, tags: [t]}
  - {name: b, key_env: KEY_B}
  - {name: c, key_env: KEY_C}
model_groups: [{name: gpt-4o-mini}]
deployments: [{name: d, provider: openai, model_group: gpt-4o-mini, provider_model: m, price: {input_per_million: 1, output_per_million: 1}, context_window: 1000}]
`;

  it('are known by hash; a key_env is hashed at load, and one not set is left out and named', () => {
    const config = parseConfig(yaml, 'router.yaml', { KEY_B: 'sk-b' });
    const a = config.keys.get(hashKey('sk-a'))!;
    expect(a).toMatchObject({ name: 'a', tier: 'free', tags: ['t'] });
    expect(mayRequest(a, 'gpt-4o-mini')).toBe(true);
    expect(mayRequest(a, 'gpt-4o')).toBe(false);
    expect(config.keys.get(hashKey('sk-b'))?.name).toBe('b');
    expect(mayRequest(config.keys.get(hashKey('sk-b'))!, 'anything')).toBe(true);
    expect(config.keysMissingEnv).toEqual(['c']);
  });

  it('refuse a key with both or neither of key_sha256 and key_env', () => {
    expect(() => parseConfig(yaml.replace('key_env: KEY_B', `key_env: KEY_B, key_sha256: "${'0'.repeat(64)}"`), 'router.yaml', {})).toThrow(/exactly one of key_sha256 and key_env/);
  });
});

describe('KeyResolver', () => {
  it('answers configured keys at once, and remembers store lookups — found or not — for cache_ms', async () => {
    const store = new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    let lookups = 0;
    const getKey = store.getKey.bind(store);
    store.getKey = (hash) => {
      lookups++;
      return getKey(hash);
    };
    let now = 1000;
    const configured = keyFromRecord({ name: 'cfg', hash: hashKey('sk-cfg') });
    const resolver = new KeyResolver(new Map([[configured.hash, configured]]), store, 500, () => now);
    expect(resolver.resolve(hashKey('sk-cfg'))).toBe(configured);
    expect(await resolver.resolve(hashKey('sk-new'))).toBeNull();
    await store.putKey({ name: 'new', hash: hashKey('sk-new') });
    expect(await resolver.resolve(hashKey('sk-new'))).toBeNull(); // "unknown" is remembered…
    expect(lookups).toBe(1);
    now += 501;
    expect((await resolver.resolve(hashKey('sk-new')))?.name).toBe('new'); // …until cache_ms passes
    await store.deleteKey(hashKey('sk-new'));
    resolver.forget(hashKey('sk-new'));
    expect(await resolver.resolve(hashKey('sk-new'))).toBeNull();
    expect(lookups).toBe(3);
  });
  /** A memory store that counts its key lookups. */
  function countingStore() {
    const store = new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
    const counter = { lookups: 0 };
    const getKey = store.getKey.bind(store);
    store.getKey = (hash) => {
      counter.lookups++;
      return getKey(hash);
    };
    return { store, counter };
  }

  it('a flood of random keys evicts only other unknown keys: a runtime key in use stays remembered', async () => {
    const { store, counter } = countingStore();
    await store.putKey({ name: 'runtime', hash: hashKey('sk-runtime') });
    const resolver = new KeyResolver(new Map(), store, 60_000, () => 1000, 100);
    expect((await resolver.resolve(hashKey('sk-runtime')))?.name).toBe('runtime');
    for (let i = 0; i < 1000; i++) expect(await resolver.resolve(hashKey(`sk-random-${i}`))).toBeNull();
    expect(counter.lookups).toBe(1001);
    // Remembered still: no lookup.
    expect((resolver.resolve(hashKey('sk-runtime')) as VirtualKey).name).toBe('runtime');
    // The newest unknown keys are remembered, the oldest were dropped (the bound): looked up again.
    expect(resolver.resolve(hashKey('sk-random-999'))).toBeNull();
    expect(counter.lookups).toBe(1001);
    expect(await resolver.resolve(hashKey('sk-random-0'))).toBeNull();
    expect(counter.lookups).toBe(1002);
  });

  it('requests presenting the same key at once wait for one lookup', async () => {
    const { store, counter } = countingStore();
    await store.putKey({ name: 'runtime', hash: hashKey('sk-runtime') });
    const resolver = new KeyResolver(new Map(), store, 60_000, () => 1000);
    const unknown = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve(hashKey('sk-unknown'))));
    const known = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve(hashKey('sk-runtime'))));
    expect(unknown.every((k) => k === null)).toBe(true);
    expect(known.every((k) => k?.name === 'runtime')).toBe(true);
    expect(counter.lookups).toBe(2);
  });

  it('a failed lookup is not remembered, and a key forgotten during its lookup is looked up again', async () => {
    const { store, counter } = countingStore();
    const resolver = new KeyResolver(new Map(), store, 60_000, () => 1000);
    const getKey = store.getKey;
    store.getKey = () => Promise.reject(new Error('store down'));
    await expect(resolver.resolve(hashKey('sk-a'))).rejects.toThrow('store down');
    store.getKey = getKey;
    expect(await resolver.resolve(hashKey('sk-a'))).toBeNull();
    const during = resolver.resolve(hashKey('sk-b'));
    await store.putKey({ name: 'b', hash: hashKey('sk-b') });
    resolver.forget(hashKey('sk-b'));
    await during;
    expect((await resolver.resolve(hashKey('sk-b')))?.name).toBe('b');
    expect(counter.lookups).toBe(3);
  });
});

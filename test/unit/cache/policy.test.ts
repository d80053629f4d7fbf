import { describe, expect, it } from 'vitest';
import { directivesOf, entryName, entryTtlMs, namespaceOf, type CachePolicy } from '../../../src/cache/policy.js';
import { decodeEntry, encodeEntry, type CacheEntry } from '../../../src/cache/entry.js';

const POLICY: CachePolicy = { ttlMs: 300_000, ttlJitter: 0.1, namespace: 'key', keyBy: 'group', maxEntryBytes: 1000, waitMs: 1000, semantic: null };

describe('cache policy', () => {
  it('reads Cache-Control (no-store keeps out of it, no-cache refreshes it) and the body field (keeps out of it)', () => {
    expect(directivesOf(undefined, undefined, {})).toEqual({ lookup: true, store: true, ttlMs: null });
    expect(directivesOf('no-cache', undefined, {})).toEqual({ lookup: false, store: true, ttlMs: null });
    expect(directivesOf('max-age=0, No-Store', undefined, {})).toEqual({ lookup: false, store: false, ttlMs: null });
    expect(directivesOf(undefined, undefined, { cache: { no_store: true } })).toMatchObject({ lookup: false, store: false });
    expect(directivesOf(undefined, undefined, { cache: { no_cache: true } })).toMatchObject({ lookup: false, store: false });
    expect(directivesOf('no-cachex', undefined, {})).toMatchObject({ lookup: true });
  });

  it('takes x-llm-cache-ttl only to shorten the TTL, and jitters it down', () => {
    expect(directivesOf(undefined, '30', {}).ttlMs).toBe(30_000);
    expect(directivesOf(undefined, 'soon', {}).ttlMs).toBeNull();
    expect(directivesOf(undefined, '', {}).ttlMs).toBeNull();
    expect(entryTtlMs(POLICY, 30_000, 0)).toBe(30_000);
    expect(entryTtlMs(POLICY, 3_600_000, 0)).toBe(300_000);
    expect(entryTtlMs(POLICY, null, 0.5)).toBe(285_000);
    expect(entryTtlMs(POLICY, null, 0.999)).toBeGreaterThan(270_000);
  });

  it('keeps keys apart unless the group shares by team or globally', () => {
    expect(namespaceOf('key', 'a', 'red')).toBe('key:a');
    expect(namespaceOf('team', 'a', 'red')).toBe('team:red');
    expect(namespaceOf('team', 'a', null)).toBe('key:a');
    expect(namespaceOf('global', 'a', 'red')).toBe('global');
  });

  it('names an entry by the API, what answers and every byte of the body', () => {
    const body = Buffer.from('{"model":"m","messages":[{"role":"user","content":"hi"}]}');
    const name = entryName('openai:chat', 'g', body);
    expect(entryName('openai:chat', 'g', Buffer.from(body))).toBe(name);
    expect(entryName('openai:chat', 'other', body)).not.toBe(name);
    expect(entryName('anthropic:chat', 'g', body)).not.toBe(name);
    expect(entryName('openai:chat', 'g', Buffer.from('{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'))).not.toBe(name);
  });
});

describe('cache entry', () => {
  const entry: CacheEntry = { contentType: 'text/event-stream', storedAtMs: 1_700_000_000_000, deployment: 'd', provider: 'openai', providerModel: 'm', responseModel: null, costNanos: 42, body: Buffer.from('data: {"x":"ü\\n"}\n\ndata: [DONE]\n\n') };

  it('reads back what it wrote', () => {
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
  });

  it('reads anything else as corrupt', () => {
    const bytes = encodeEntry(entry);
    expect(decodeEntry(Buffer.from('not an entry'))).toBeNull();
    expect(decodeEntry(bytes.subarray(0, bytes.length - 1))).toBeNull();
    expect(decodeEntry(Buffer.from('{"v":2}\n'))).toBeNull();
  });
});

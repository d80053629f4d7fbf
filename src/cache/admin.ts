/**
 * The admin API's cache routes (behind the admin token, admin/server.ts):
 *
 *   GET    /cache/<namespace>          the namespace's entries (names, up to ?limit=, default 100)
 *   DELETE /cache/<namespace>          purge the namespace
 *   GET    /cache/<namespace>/<name>   one entry: who answered, what it cost, when, its size
 *   DELETE /cache/<namespace>/<name>   remove one entry
 *
 * A namespace is `key:<name>`, `team:<name>` or `global` (URL-encoded when it holds a `/`).
 */
import type { StateStore } from '../state/store.js';
import { decodeEntry } from './entry.js';
import { storeKeyOf } from './policy.js';

export const CACHE_ROUTE = '/cache/';

export interface AdminReply {
  readonly status: number;
  readonly body: unknown;
}

export async function cacheAdmin(store: StateStore, method: string, url: URL, nowMs: number): Promise<AdminReply> {
  const [rawNamespace, rawName, ...rest] = url.pathname.slice(CACHE_ROUTE.length).split('/');
  const namespace = decodeURIComponent(rawNamespace ?? '');
  if (namespace === '' || rest.length > 0 || rawName === '') return { status: 404, body: { error: 'expected /cache/<namespace>[/<name>]' } };
  if (rawName === undefined) {
    const prefix = storeKeyOf(namespace, '');
    if (method === 'DELETE') return { status: 200, body: { namespace, purged: await store.cachePurge(prefix) } };
    if (method !== 'GET') return { status: 405, body: { error: 'use GET or DELETE' } };
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 100) || 100, 1), 10_000);
    const keys = await store.cacheKeys(prefix, limit, nowMs);
    return { status: 200, body: { namespace, keys: keys.map((k) => k.slice(prefix.length)) } };
  }
  const name = decodeURIComponent(rawName);
  const key = storeKeyOf(namespace, name);
  if (method === 'DELETE') {
    const removed = await store.cacheDelete(key);
    return { status: removed ? 200 : 404, body: { removed } };
  }
  if (method !== 'GET') return { status: 405, body: { error: 'use GET or DELETE' } };
  const bytes = await store.cacheGet(key, nowMs);
  if (bytes === null) return { status: 404, body: { error: 'no such entry' } };
  const entry = decodeEntry(bytes);
  if (entry === null) return { status: 200, body: { namespace, name, corrupt: true, bytes: bytes.length } };
  const { body, ...meta } = entry;
  return { status: 200, body: { namespace, name, ...meta, bytes: body.length, ageSec: Math.max(0, Math.floor((nowMs - entry.storedAtMs) / 1000)) } };
}

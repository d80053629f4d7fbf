/**
 * What the exact cache does with one request, decided from the group's policy, the request's
 * headers and its body alone (no I/O, no clock: the caller passes what it needs).
 */
import { createHash } from 'node:crypto';
import type { EmbeddingsEndpoint } from '../config/compile.js';
import type { RouterConfigFile } from '../config/schema.js';

export type CacheNamespaceKind = 'key' | 'team' | 'global';

export interface CachePolicy {
  readonly ttlMs: number;
  /** An entry lives up to this fraction of `ttlMs` less, drawn per entry. */
  readonly ttlJitter: number;
  readonly namespace: CacheNamespaceKind;
  readonly keyBy: 'group' | 'deployment';
  readonly maxEntryBytes: number;
  readonly waitMs: number;
  /** The semantic cache's, or null when the group has only the exact cache. */
  readonly semantic: SemanticPolicy | null;
}

export interface SemanticPolicy {
  readonly embeddings: EmbeddingsEndpoint;
  readonly threshold: number;
  readonly maxEntries: number;
}

export function cachePolicyOf(file: NonNullable<RouterConfigFile['model_groups'][number]['cache']>, embeddings: EmbeddingsEndpoint | null): CachePolicy {
  return {
    ttlMs: file.ttl_seconds * 1000,
    ttlJitter: file.ttl_jitter,
    namespace: file.namespace,
    keyBy: file.key_by,
    maxEntryBytes: file.max_entry_bytes,
    waitMs: file.wait_ms,
    semantic: file.semantic === undefined || embeddings === null ? null : { embeddings, threshold: file.semantic.threshold, maxEntries: file.semantic.max_entries },
  };
}

/** What the client asked of the cache for this request. */
export interface Directives {
  /** An answer may come from the cache. */
  readonly lookup: boolean;
  /** The answer may be stored. */
  readonly store: boolean;
  /** `x-llm-cache-ttl`, in ms: a shorter life for what this request stores; null when not sent (or not a number). */
  readonly ttlMs: number | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `Cache-Control: no-cache` (answer fresh, then store) and `no-store` (neither); the body's
 * `cache: {no_cache | no_store: true}` keeps the request out of the cache either way, as an entry
 * stored under a body holding that field would be found only by requests that never look.
 * `x-llm-cache-ttl: <seconds>`.
 */
export function directivesOf(cacheControl: string | undefined, ttlHeader: string | undefined, body: Record<string, unknown>): Directives {
  const control = (cacheControl ?? '').toLowerCase();
  const field = isObject(body.cache) ? body.cache : null;
  const optedOut = field?.no_store === true || field?.no_cache === true;
  const noStore = optedOut || /(^|[\s,])no-store($|[\s,;=])/.test(control);
  const noCache = noStore || /(^|[\s,])no-cache($|[\s,;=])/.test(control);
  const seconds = ttlHeader === undefined ? NaN : Number(ttlHeader.trim());
  return { lookup: !noCache, store: !noStore, ttlMs: Number.isFinite(seconds) && seconds >= 0 && ttlHeader!.trim() !== '' ? seconds * 1000 : null };
}

/** Whose entries the request reads and writes: its key's, its key's team's (its key's without a team), or everyone's. */
export function namespaceOf(kind: CacheNamespaceKind, keyId: string, team: string | null): string {
  if (kind === 'global') return 'global';
  if (kind === 'team' && team !== null) return `team:${team}`;
  return `key:${keyId}`;
}

/** An entry's life: the policy's, or the request's shorter one, less a jittered part so entries stored together expire apart. */
export function entryTtlMs(policy: CachePolicy, requestedMs: number | null, random: number): number {
  const ttl = requestedMs === null ? policy.ttlMs : Math.min(policy.ttlMs, requestedMs);
  return Math.floor(ttl * (1 - policy.ttlJitter * random));
}

/**
 * The entry's name in its namespace: a hash of the client's API path, what answers (the group or the
 * deployment) and the body's bytes as sent — the model, the messages or input and every generation
 * parameter, `stream` and `stream_options` among them, so a JSON request and a streamed one (or one
 * that asked for the usage chunk and one that did not) never share an entry.
 */
export function entryName(path: string, answeredBy: string, body: Buffer): string {
  return createHash('sha256').update(path).update('\u0000').update(answeredBy).update('\u0000').update(body).digest('base64url');
}

/** The store key of an entry: namespaces are prefixes, so a namespace can be listed and purged. */
export const storeKeyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * What the semantic cache compares and what must be equal: the text of the last user message (a
 * string, or text parts alone; null otherwise, and for requests with no prompt to compare, such as
 * embeddings), and the partition — a hash of the API and endpoint, what answers, the namespace and
 * the body without that text: the model, the earlier messages and every generation parameter.
 */
export function semanticKeyOf(path: string, answeredBy: string, namespace: string, body: Record<string, unknown>): { readonly text: string; readonly partition: string } | null {
  let text: string | null = null;
  let rest: Record<string, unknown> | null = null;
  if (Array.isArray(body.messages)) {
    const messages = body.messages as unknown[];
    const last = messages.findLastIndex((m) => isObject(m) && m.role === 'user');
    const m = messages[last];
    if (isObject(m)) {
      text = textOf(m.content);
      rest = { ...body, messages: messages.with(last, { ...m, content: null }) };
    }
  } else if (typeof body.prompt === 'string' && path.endsWith(':completions')) {
    text = body.prompt;
    rest = { ...body, prompt: null };
  }
  if (text === null || text.trim() === '' || rest === null) return null;
  const partition = createHash('sha256').update(path).update('\u0000').update(answeredBy).update('\u0000').update(namespace).update('\u0000').update(JSON.stringify(rest)).digest('base64url');
  return { text, partition };
}

function textOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  const parts: string[] = [];
  for (const part of content) {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') return null;
    parts.push(part.text);
  }
  return parts.join('\n');
}

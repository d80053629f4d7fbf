/**
 * Request fields meant for the router, never for a provider: OpenAI and most providers refuse a
 * parameter they do not know with a 400, and `metadata` must hold strings only. They are read
 * (routing/features.ts, pipeline/api-request.ts) and removed in the one rewrite a body gets.
 */
import type { MemberEdits } from '../json/splice.js';

/** Top-level fields the router reads. */
const TOP_LEVEL = ['tags', 'disable_fallbacks', 'cache'] as const;
/** Members of `metadata` the router reads; the rest of `metadata` is the provider's. */
const IN_METADATA = ['tags', 'route_preference'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function hasRouterFields(body: Record<string, unknown>): boolean {
  for (const f of TOP_LEVEL) if (body[f] !== undefined) return true;
  const metadata = body.metadata;
  if (!isObject(metadata)) return false;
  for (const f of IN_METADATA) if (metadata[f] !== undefined) return true;
  return false;
}

/**
 * A shallow copy of `body` without the router's fields (to be serialised once by the caller);
 * `metadata` is dropped when nothing else was in it.
 */
export function withoutRouterFields(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const f of TOP_LEVEL) delete out[f];
  const metadata = body.metadata;
  if (isObject(metadata) && IN_METADATA.some((f) => metadata[f] !== undefined)) {
    const rest: Record<string, unknown> = { ...metadata };
    for (const f of IN_METADATA) delete rest[f];
    if (Object.keys(rest).length === 0) delete out.metadata;
    else out.metadata = rest;
  }
  return out;
}

const METADATA_EDITS: MemberEdits = { remove: IN_METADATA, dropWhenEmpty: true };

/**
 * Edits of a body's bytes (json/splice.ts) that make `set`, and remove the router's fields when
 * the body holds some; `metadata` is dropped when nothing else was in it.
 */
export function editsRemovingRouterFields(set: Readonly<Record<string, string | MemberEdits>>, routerFields: boolean): MemberEdits {
  return routerFields ? { set: { ...set, metadata: METADATA_EDITS }, remove: TOP_LEVEL } : { set };
}

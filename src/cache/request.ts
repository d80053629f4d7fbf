/**
 * One request's dealings with the exact cache: what the lookup found (the `x-llm-cache` header
 * says it), the stored answer a hit is given, and for a request that goes to the provider the body
 * the client gets, kept (up to the entry size limit) to be stored if it ends complete.
 */
import type { Deployment } from '../config/compile.js';
import type { HeaderPair, Outcome } from '../pipeline/types.js';
import type { CacheResult } from '../state/store.js';
import type { CacheEntry } from './entry.js';
import type { Lookup, Ticket } from './exact.js';
import { entryTtlMs, type CachePolicy, type Directives } from './policy.js';


/** How a finished request's answer turned out, as billed. */
export interface Answered {
  readonly status: number;
  /** The client got it all, with the provider's usage. */
  readonly whole: boolean;
  readonly served: Deployment;
  readonly responseModel: string | null;
  readonly costNanos: number;
}

export class RequestCache {
  readonly result: CacheResult;
  /** Which cache answered a hit (a miss or bypass is the exact cache's). */
  readonly kind: 'exact' | 'semantic';
  /** A hit: what it is answered with. */
  readonly entry: CacheEntry | null;
  private readonly ticket: Ticket | null;
  private parts: Buffer[] | null = null;
  private size = 0;

  constructor(
    /** The group the answer was looked up in (its metrics' label). */
    readonly group: string,
    private readonly policy: CachePolicy,
    private readonly directives: Directives,
    lookup: Lookup,
    /** Set for a request that asked for a fresh answer: it may still store one. */
    fresh: Ticket | null,
    /** A semantic hit: how similar the stored prompt was. */
    readonly similarity: number | null = null,
    /** A semantic miss: points the prompt's vector at the answer once stored for `ttlMs` (SemanticCache.add). */
    private readonly pointAt: ((ttlMs: number) => void) | null = null,
  ) {
    this.kind = similarity === null ? 'exact' : 'semantic';
    this.result = lookup.kind === 'hit' ? 'hit' : lookup.kind === 'miss' && fresh === null ? 'miss' : 'bypass';
    this.entry = lookup.kind === 'hit' ? lookup.entry : null;
    this.ticket = lookup.kind === 'miss' ? lookup.ticket : fresh;
  }

  /** The response body is kept as it goes to the client (the request went upstream). */
  startCapture(): void {
    if (this.ticket !== null && this.directives.store) this.parts = [];
  }

  get capturing(): boolean {
    return this.parts !== null;
  }

  /** A chunk as the client got it; past the entry size limit nothing more is kept (and nothing stored). */
  capture(chunk: Buffer): void {
    if (this.parts === null) return;
    this.size += chunk.length;
    if (this.size > this.policy.maxEntryBytes) this.parts = null;
    else if (chunk.length > 0) this.parts.push(chunk);
  }

  /** The request has ended: a complete, successful answer is stored; otherwise those waiting on it go themselves. */
  finish(answered: Answered | null, contentType: string, nowMs: number, random: number): void {
    if (this.ticket === null) return;
    const parts = this.parts;
    this.parts = null;
    const storable = answered !== null && parts !== null && answered.status === 200 && answered.whole;
    if (!storable) return this.ticket.finish(null, 0);
    const d = answered.served;
    const entry: CacheEntry = {
      contentType,
      storedAtMs: nowMs,
      deployment: d.name,
      provider: d.provider,
      providerModel: d.providerModel,
      responseModel: answered.responseModel,
      costNanos: answered.costNanos,
      body: Buffer.concat(parts),
    };
    const ttlMs = entryTtlMs(this.policy, this.directives.ttlMs, random);
    const pointAt = this.pointAt;
    this.ticket.finish(entry, ttlMs, pointAt === null ? undefined : () => pointAt(ttlMs));
  }
}

/** For Envoy's access log, as a miss's and a bypass's are (request-metadata.ts). */
const HIT_METADATA = { cache: 'hit' } as const;

/** Envoy answers a hit itself: the stored body, its content type, how old it is and, for a semantic hit, how similar its prompt was. */
export function hitReply(entry: CacheEntry, nowMs: number, similarity: number | null): Extract<Outcome, { kind: 'reply' }> {
  const age = Math.max(0, Math.floor((nowMs - entry.storedAtMs) / 1000));
  const headers: HeaderPair[] = [
    ['content-type', entry.contentType],
    ['x-llm-cache', 'hit'],
    ['age', String(age)],
  ];
  if (similarity !== null) headers.push(['x-llm-cache-similarity', similarity.toFixed(3)]);
  return { kind: 'reply', status: 200, body: entry.body, headers, metadata: HIT_METADATA };
}

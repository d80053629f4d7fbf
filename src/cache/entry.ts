/**
 * A stored answer: one line of JSON with what the hit needs to be answered and billed, then the
 * body exactly as the client got it. Anything that does not read back whole is corrupt (a miss,
 * and deleted).
 */

export interface CacheEntry {
  readonly contentType: string;
  readonly storedAtMs: number;
  /** Who answered and what it cost: what a hit saves. */
  readonly deployment: string;
  readonly provider: string;
  readonly providerModel: string;
  readonly responseModel: string | null;
  readonly costNanos: number;
  readonly body: Buffer;
}

const VERSION = 1;
const NEWLINE = 0x0a;

export function encodeEntry(e: CacheEntry): Buffer {
  const head = JSON.stringify({ v: VERSION, ct: e.contentType, at: e.storedAtMs, d: e.deployment, p: e.provider, pm: e.providerModel, rm: e.responseModel, c: e.costNanos, n: e.body.length });
  return Buffer.concat([Buffer.from(head), Buffer.from([NEWLINE]), e.body]);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The entry, or null when the bytes are not one this version wrote whole. */
export function decodeEntry(bytes: Buffer): CacheEntry | null {
  const nl = bytes.indexOf(NEWLINE);
  if (nl === -1) return null;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(bytes.toString('utf8', 0, nl)) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof h !== 'object' || h === null || h.v !== VERSION) return null;
  const body = bytes.subarray(nl + 1);
  if (!isString(h.ct) || !isCount(h.at) || !isString(h.d) || !isString(h.p) || !isString(h.pm) || !(h.rm === null || isString(h.rm)) || !isCount(h.c) || h.n !== body.length) return null;
  return { contentType: h.ct, storedAtMs: h.at, deployment: h.d, provider: h.p, providerModel: h.pm, responseModel: h.rm, costNanos: h.c, body };
}

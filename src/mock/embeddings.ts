/**
 * The mock's `/v1/embeddings`: deterministic vectors in OpenAI's wire format. Words and the
 * character trigrams inside them are hashed into a fixed number of dimensions (feature hashing), so
 * texts that share words and word parts are close — enough to exercise an embeddings-based router.
 */
const DIMENSIONS = 256;
const WORD = /[\p{L}\p{N}]+/gu;

/** FNV-1a, 32 bits. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function mockEmbedding(text: string): number[] {
  const v = new Array<number>(DIMENSIONS).fill(0);
  const add = (feature: string, weight: number) => {
    const h = hash(feature);
    v[h % DIMENSIONS]! += h & 0x80000000 ? -weight : weight;
  };
  for (const m of text.toLowerCase().matchAll(WORD)) {
    add(`w:${m[0]}`, 1);
    const padded = `^${m[0]}$`;
    for (let i = 0; i + 3 <= padded.length; i++) add(padded.slice(i, i + 3), 0.5);
  }
  return v;
}

export interface EmbeddingsResponse {
  readonly object: 'list';
  readonly data: ReadonlyArray<{ readonly object: 'embedding'; readonly index: number; readonly embedding: number[] }>;
  readonly model: string;
  readonly usage: { readonly prompt_tokens: number; readonly total_tokens: number };
}

/** The response body for an embeddings request, or null when its `input` is not text. */
export function embeddingsResponse(body: { input?: unknown; model?: unknown }): EmbeddingsResponse | null {
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(input) || !input.every((t): t is string => typeof t === 'string')) return null;
  const tokens = input.reduce((n, t) => n + Math.max(1, Math.ceil(t.length / 4)), 0);
  return {
    object: 'list',
    data: input.map((t, index) => ({ object: 'embedding', index, embedding: mockEmbedding(t) })),
    model: typeof body.model === 'string' ? body.model : 'mock-embedding',
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

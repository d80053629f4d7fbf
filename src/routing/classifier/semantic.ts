/**
 * Local semantic matching: how close a prompt is to each route's example utterances, computed in
 * process with no model and no network. Texts become sparse TF-IDF vectors of their words and of
 * the character trigrams inside words (so "writing" is near "write" and typos still match), with
 * the inverse document frequencies learnt from the examples; a route scores the best cosine
 * similarity of the prompt to any of its examples.
 */

export interface SemanticRoute {
  readonly group: string;
  readonly examples: readonly string[];
}

export interface SemanticMatch {
  readonly group: string;
  readonly score: number;
}

type Vector = Map<string, number>;

/** Only the head and tail of a long prompt are read: instructions sit at either end. */
const HEAD_CHARS = 2048;
const TAIL_CHARS = 2048;
const WORD = /[\p{L}\p{N}]+/gu;

/** What is read of a prompt: all of a short one, the head and tail of a long one. */
export function headAndTail(text: string): string {
  return text.length > HEAD_CHARS + TAIL_CHARS ? `${text.slice(0, HEAD_CHARS)} ${text.slice(-TAIL_CHARS)}` : text;
}

function features(text: string): Map<string, number> {
  const t = headAndTail(text);
  const counts = new Map<string, number>();
  const add = (f: string) => counts.set(f, (counts.get(f) ?? 0) + 1);
  for (const match of t.toLowerCase().matchAll(WORD)) {
    const word = match[0];
    add(`w:${word}`);
    const padded = `^${word}$`;
    for (let i = 0; i + 3 <= padded.length; i++) add(padded.slice(i, i + 3));
  }
  return counts;
}

function weigh(counts: Map<string, number>, idf: ReadonlyMap<string, number>): Vector {
  const v: Vector = new Map();
  let norm = 0;
  for (const [f, n] of counts) {
    const w = idf.get(f);
    // Features no example has cannot make a prompt closer to any route; leaving them out keeps a
    // long prompt from being diluted by its own vocabulary.
    if (w === undefined) continue;
    const x = (1 + Math.log(n)) * w;
    v.set(f, x);
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (const [f, x] of v) v.set(f, x / norm);
  return v;
}

function dot(a: Vector, b: Vector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let s = 0;
  for (const [f, x] of small) {
    const y = large.get(f);
    if (y !== undefined) s += x * y;
  }
  return s;
}

export class SemanticMatcher {
  private readonly idf: Map<string, number>;
  private readonly examples: Array<{ group: string; vector: Vector }>;

  constructor(routes: readonly SemanticRoute[]) {
    const all = routes.flatMap((r) => r.examples.map((e) => ({ group: r.group, counts: features(e) })));
    const df = new Map<string, number>();
    for (const { counts } of all) for (const f of counts.keys()) df.set(f, (df.get(f) ?? 0) + 1);
    this.idf = new Map([...df].map(([f, n]) => [f, Math.log(1 + all.length / n)]));
    this.examples = all.map(({ group, counts }) => ({ group, vector: weigh(counts, this.idf) }));
  }

  /** The route most similar to `text`, with its score in [0, 1]; null without examples. */
  best(text: string): SemanticMatch | null {
    const v = weigh(features(text), this.idf);
    let best: SemanticMatch | null = null;
    for (const e of this.examples) {
      const score = dot(v, e.vector);
      if (best === null || score > best.score) best = { group: e.group, score };
    }
    return best;
  }
}

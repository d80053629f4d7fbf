/**
 * Counts o200k_base tokens (GPT-4o's tokenizer) as tiktoken encodes: the text is pre-split into
 * pieces by o200k's pattern; a piece that is a token costs one, any other is byte-pair merged, the
 * adjacent pair whose bytes form the lowest-ranked token first (the leftmost on a tie), until no
 * pair forms a token; each part left is a token. Only counts: no token ids are produced.
 * Special-token text (`<|endoftext|>`) is plain text here.
 */
import type { RankTable } from './bpe-ranks.js';

/**
 * tiktoken's o200k_base pattern. Its case-insensitive contraction group `(?i:'s|'t|'re|'ve|'m|'ll|'d)`
 * is spelled out as case pairs (Node 22's RegExp has no inline flags), and `\s` is JavaScript's, as
 * in gpt-tokenizer's copy, whose counts the tests compare with: it differs from tiktoken's Rust
 * regex only for U+0085 and U+FEFF.
 */
const CONTRACTION = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?`;
const PIECES = new RegExp(
  [
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+${CONTRACTION}`,
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*${CONTRACTION}`,
    String.raw`\p{N}{1,3}`,
    String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
    String.raw`\s*[\r\n]+`,
    String.raw`\s+(?!\S)`,
    String.raw`\s+`,
  ].join('|'),
  'gu',
);

/** Work arrays kept for texts up to this many UTF-16 units (a segment is 256); longer ones get their own. */
const SCRATCH_CHARS = 1024;
/** A heap entry: a pair's rank times this plus its position, so the lowest rank, then the leftmost, comes first. */
const POSITION_SPAN = 2 ** 32;
const NO_PAIR = -1;

const utf8 = new TextEncoder();

/** What merging a piece of up to `bytes` bytes works in. */
class MergeState {
  /** Per byte of the piece: where the next and the previous parts start, and the rank of the part starting there merged with the next. */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly pairRank: Int32Array;
  /** Pairs to merge, lowest key first; an entry whose rank is no longer its pair's is skipped. n - 1 pairs, then at most 2 per merge. */
  readonly heap: Float64Array;
  size = 0;

  constructor(bytes: number) {
    this.next = new Int32Array(bytes + 1);
    this.prev = new Int32Array(bytes + 1);
    this.pairRank = new Int32Array(bytes + 1);
    this.heap = new Float64Array(3 * bytes);
  }

  push(key: number): void {
    const heap = this.heap;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
  }

  pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

export class TokenCounter {
  private readonly text = new Uint8Array(SCRATCH_CHARS * 3);
  private readonly state = new MergeState(SCRATCH_CHARS * 3);

  constructor(private readonly ranks: RankTable) {}

  count(text: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 for 2); a lone surrogate becomes U+FFFD, 3.
    const bytes = text.length <= SCRATCH_CHARS ? this.text : new Uint8Array(text.length * 3);
    utf8.encodeInto(text, bytes);
    let tokens = 0;
    let char = 0;
    let byte = 0;
    PIECES.lastIndex = 0;
    // The pattern matches at every position, so each piece starts where the last one ended (`char`).
    while (PIECES.exec(text) !== null) {
      const pieceEnd = PIECES.lastIndex;
      const start = byte;
      let lone = false;
      for (; char < pieceEnd; char++) {
        const length = utf8Length(text, char);
        byte += length & BYTE_COUNT;
        lone ||= (length & LONE_SURROGATE) !== 0;
        if (length & PAIR) char++;
      }
      // gpt-tokenizer looks a piece up whole as a string, which never matches one with a lone
      // surrogate: such a piece is merged from its bytes (U+FFFD's for the surrogate).
      tokens += !lone && this.ranks.rank(bytes, start, byte) >= 0 ? 1 : this.merge(bytes, start, byte);
    }
    return tokens;
  }

  /** How many tokens byte-pair merging leaves of `bytes[start, end)`: O(n log n) in its length n. */
  private merge(bytes: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const state = n < this.state.next.length ? this.state : new MergeState(n);
    const { next, prev, pairRank } = state;
    const ranks = this.ranks;
    /** Ranks the pair of parts starting at `i` (positions relative to `start`; `n` ends the last part). */
    const rankPair = (i: number) => {
      const after = next[i]!;
      const r = after >= n ? NO_PAIR : ranks.rank(bytes, start + i, start + next[after]!);
      pairRank[i] = r;
      if (r !== NO_PAIR) state.push(r * POSITION_SPAN + i);
    };

    state.size = 0;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    next[n] = n;
    for (let i = 0; i < n; i++) rankPair(i);

    let parts = n;
    while (state.size > 0) {
      const key = state.pop();
      const r = Math.floor(key / POSITION_SPAN);
      const i = key - r * POSITION_SPAN;
      if (pairRank[i] !== r) continue; // merged away, or its pair changed since
      const absorbed = next[i]!;
      const after = next[absorbed]!;
      next[i] = after;
      if (after < n) prev[after] = i;
      pairRank[absorbed] = NO_PAIR;
      parts--;
      rankPair(i);
      if (i > 0) rankPair(prev[i]!);
    }
    return parts;
  }
}

/** `utf8Length`'s answer: the UTF-8 bytes in its low bits, and flags. */
const BYTE_COUNT = 0x7;
const PAIR = 0x8;
const LONE_SURROGATE = 0x10;

/** The UTF-8 length of the character at `i` (a surrogate pair: 4, flagged PAIR; a lone surrogate: U+FFFD's 3, flagged). */
function utf8Length(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c < 0xd800 || c > 0xdfff) return 3;
  if (c < 0xdc00) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return 4 | PAIR;
  }
  return 3 | LONE_SURROGATE;
}

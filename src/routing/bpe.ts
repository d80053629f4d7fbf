/**
 * Counts o200k_base tokens (GPT-4o's tokenizer) as tiktoken encodes: the text is pre-split into
 * pieces by o200k's pattern; a piece that is a token costs one, any other is byte-pair merged, the
 * adjacent pair whose bytes form the lowest-ranked token first (the leftmost on a tie), until no
 * pair forms a token; each part left is a token. Only counts: no token ids are produced.
 * Special-token text (`<|endoftext|>`) is plain text here.
 */
import { hashBytes, type RankTable } from './bpe-ranks.js';

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

/** Byte-pair merging of one piece at a time, in arrays kept for pieces up to `capacity` bytes. */
class Merger {
  /** Per byte of the piece: where the next and the previous parts start, and the rank of the part starting there merged with the next. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly pairRank: Int32Array;
  /** Pairs to merge, lowest key first; an entry whose rank is no longer its pair's is skipped. n - 1 pairs, then at most 2 per merge. */
  private readonly heap: Float64Array;
  private size = 0;

  constructor(
    private readonly ranks: RankTable,
    readonly capacity: number,
  ) {
    this.next = new Int32Array(capacity + 1);
    this.prev = new Int32Array(capacity + 1);
    this.pairRank = new Int32Array(capacity + 1);
    this.heap = new Float64Array(3 * capacity);
  }

  /** How many tokens merging leaves of `bytes[start, end)`: O(n log n) in its length n. */
  parts(bytes: Uint8Array, start: number, end: number): number {
    const n = end - start;
    const { next, prev, pairRank } = this;
    this.size = 0;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    for (let i = 0; i < n; i++) this.rankPair(bytes, start, n, i);

    let parts = n;
    while (this.size > 0) {
      const key = this.pop();
      const r = Math.floor(key / POSITION_SPAN);
      const i = key - r * POSITION_SPAN;
      if (pairRank[i] !== r) continue; // merged away, or its pair changed since
      const absorbed = next[i]!;
      const after = next[absorbed]!;
      next[i] = after;
      if (after < n) prev[after] = i;
      pairRank[absorbed] = NO_PAIR;
      parts--;
      this.rankPair(bytes, start, n, i);
      if (i > 0) this.rankPair(bytes, start, n, prev[i]!);
    }
    return parts;
  }

  /** Ranks the pair of parts starting at `i` (positions relative to `start`; `n` ends the last part). */
  private rankPair(bytes: Uint8Array, start: number, n: number, i: number): void {
    const after = this.next[i]!;
    const r = after >= n ? NO_PAIR : this.ranks.rank(bytes, start + i, start + this.next[after]!);
    this.pairRank[i] = r;
    if (r !== NO_PAIR) this.push(r * POSITION_SPAN + i);
  }

  private push(key: number): void {
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

  private pop(): number {
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

/**
 * The counts of pieces merged lately, one a slot (the last piece hashed there): text that repeats —
 * a run cut into identical segments, a word the vocabulary lacks — is merged once. Each holds a
 * copy of its piece's bytes, in one flat array: no prompt stays reachable from it, as prompts did
 * from gpt-tokenizer's cache of strings. bench/token-count.ts, "'a' run".
 */
class MergedPieces {
  private static readonly SLOTS = 1024;
  /** Longer pieces are merged each time: a segment of ASCII fits. */
  static readonly MAX_BYTES = 256;
  private readonly bytes = new Uint8Array(MergedPieces.SLOTS * MergedPieces.MAX_BYTES);
  /** 0: an empty slot (a merged piece has at least 2 bytes). */
  private readonly lengths = new Int32Array(MergedPieces.SLOTS);
  private readonly counts = new Int32Array(MergedPieces.SLOTS);

  /** The count kept for `text[start, end)` (whose `hashBytes` is `hash`), or -1. */
  get(text: Uint8Array, start: number, end: number, hash: number): number {
    const slot = hash & (MergedPieces.SLOTS - 1);
    const length = end - start;
    if (this.lengths[slot] !== length) return -1;
    const at = slot * MergedPieces.MAX_BYTES;
    for (let i = 0; i < length; i++) if (this.bytes[at + i] !== text[start + i]) return -1;
    return this.counts[slot]!;
  }

  set(text: Uint8Array, start: number, end: number, hash: number, count: number): void {
    const slot = hash & (MergedPieces.SLOTS - 1);
    this.bytes.set(text.subarray(start, end), slot * MergedPieces.MAX_BYTES);
    this.lengths[slot] = end - start;
    this.counts[slot] = count;
  }
}

export class TokenCounter {
  private readonly text = new Uint8Array(SCRATCH_CHARS * 3);
  private readonly merger: Merger;
  private readonly merged = new MergedPieces();

  constructor(private readonly ranks: RankTable) {
    this.merger = new Merger(ranks, SCRATCH_CHARS * 3);
  }

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
      tokens += this.piece(bytes, start, byte, lone);
    }
    return tokens;
  }

  private piece(bytes: Uint8Array, start: number, end: number, lone: boolean): number {
    const n = end - start;
    const hash = hashBytes(bytes, start, end);
    // gpt-tokenizer looks a piece up whole as a string, which never matches one with a lone
    // surrogate: such a piece is merged from its bytes (U+FFFD's for the surrogate).
    if (!lone && this.ranks.rankHashed(bytes, start, end, hash) >= 0) return 1;
    if (n > MergedPieces.MAX_BYTES) return (n <= this.merger.capacity ? this.merger : new Merger(this.ranks, n)).parts(bytes, start, end);
    let parts = this.merged.get(bytes, start, end, hash);
    if (parts < 0) {
      parts = this.merger.parts(bytes, start, end);
      this.merged.set(bytes, start, end, hash, parts);
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

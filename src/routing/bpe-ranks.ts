/**
 * A byte-pair vocabulary (o200k_base's mergeable ranks) in three flat typed arrays: every token's
 * bytes end to end in rank order, where each one starts, and an open-addressing hash table from
 * bytes to rank. For o200k's 199,998 tokens that is 1.4 MB of bytes, 0.8 MB of starts and 2 MB of
 * slots; gpt-tokenizer's tables held the same vocabulary as 200,000 strings, arrays and a Map,
 * ~60 MB of the JS heap (docs/decisions.md, "Token counting in flat tables").
 */

/**
 * Built a slice of lines at a time, the event loop getting a turn between slices: the whole build
 * takes 50–100 ms, the first slices (before V8 optimises the loops) up to a few ms each.
 */
const LINES_PER_SLICE = 2048;
/** All 256 single bytes are tokens, so no piece is ever left without one. */
const BYTE_TOKENS = 256;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;
const PADDING = 0x3d; // '='

/** The value of each base64 character, -1 for any other byte. */
const BASE64 = new Int8Array(256).fill(-1);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].forEach((c, i) => (BASE64[c.charCodeAt(0)] = i));

/** FNV-1a over the bytes, then a final mix so the table's low bits depend on every byte. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class RankTable {
  private readonly mask: number;

  /**
   * `starts[r]`..`starts[r + 1]`: token r's bytes in `bytes`. `slots`: rank + 1 of the token hashed
   * there (0: empty), a power of two at most half full so that a probe ends after one or two slots.
   */
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly starts: Uint32Array,
    private readonly slots: Int32Array,
    /** The longest token: a longer run of bytes is no token without looking. */
    private readonly maxTokenBytes: number,
  ) {
    this.mask = slots.length - 1;
  }

  get tokens(): number {
    return this.starts.length - 1;
  }

  /** The rank of `text[start, end)` as one token, or -1 when no token has those bytes. */
  rank(text: Uint8Array, start: number, end: number): number {
    return end - start > this.maxTokenBytes ? -1 : this.rankHashed(text, start, end, hashBytes(text, start, end));
  }

  /** `rank`, given the bytes' `hashBytes`. */
  rankHashed(text: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    if (length > this.maxTokenBytes) return -1;
    const { bytes, starts, slots, mask } = this;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === 0) return -1;
      const at = starts[entry - 1]!;
      if (starts[entry]! - at !== length) continue;
      let i = 0;
      while (i < length && bytes[at + i] === text[start + i]) i++;
      if (i === length) return entry - 1;
    }
  }

  /**
   * Builds the table from a `.tiktoken` rank file: one token a line, its bytes in base64, a space,
   * its rank; ranks from 0 in line order (the table's index is the rank). `nextTurn` is awaited
   * between slices of lines.
   */
  static async build(file: Uint8Array, nextTurn: () => Promise<void>): Promise<RankTable> {
    // Each line takes at least 4 bytes per 3 token bytes plus " 0\n": upper bounds, trimmed at the end.
    const bytes = new Uint8Array(Math.ceil((file.length * 3) / 4));
    const starts = new Uint32Array(Math.ceil(file.length / 5) + 1);
    let tokens = 0;
    let used = 0;
    let pos = 0;
    let maxTokenBytes = 0;
    const malformed = () => new Error(`rank file: line ${tokens + 1} is not "<base64 bytes> ${tokens}"`);
    while (pos < file.length) {
      starts[tokens] = used;
      let acc = 0;
      let bits = 0;
      for (; pos < file.length && file[pos] !== SPACE; pos++) {
        if (file[pos] === PADDING) continue;
        const v = BASE64[file[pos]!]!;
        if (v < 0) throw malformed();
        acc = ((acc << 6) | v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          bytes[used++] = acc >>> bits;
        }
      }
      let rank = 0;
      const digits = ++pos;
      for (; pos < file.length && file[pos] !== NEWLINE; pos++) {
        const d = file[pos]! - DIGIT_0;
        if (d < 0 || d > 9) throw malformed();
        rank = rank * 10 + d;
      }
      if (pos === digits || rank !== tokens || used === starts[tokens]) throw malformed();
      maxTokenBytes = Math.max(maxTokenBytes, used - starts[tokens]!);
      pos++;
      tokens++;
      if (tokens % LINES_PER_SLICE === 0) await nextTurn();
    }
    if (tokens < BYTE_TOKENS) throw new Error(`rank file: ${tokens} tokens, fewer than the ${BYTE_TOKENS} single bytes`);
    starts[tokens] = used;

    let size = 1;
    while (size < tokens * 2) size *= 2;
    const table = new RankTable(bytes.slice(0, used), starts.slice(0, tokens + 1), new Int32Array(size), maxTokenBytes);
    for (let r = 0; r < tokens; r++) {
      table.insert(r);
      if ((r + 1) % LINES_PER_SLICE === 0) await nextTurn();
    }
    for (let b = 0; b < BYTE_TOKENS; b++) {
      if (table.rank(Uint8Array.of(b), 0, 1) < 0) throw new Error(`rank file: byte ${b} is not a token`);
    }
    return table;
  }

  private insert(r: number): void {
    const { bytes, starts, slots, mask } = this;
    let slot = hashBytes(bytes, starts[r]!, starts[r + 1]!) & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = r + 1;
  }
}

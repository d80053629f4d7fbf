/**
 * A byte-pair vocabulary (o200k_base's mergeable ranks) in three flat typed arrays: every token's
 * bytes end to end in rank order, where each one starts, and an open-addressing hash table from
 * bytes to rank. For o200k's 199,998 tokens that is 1.4 MB of bytes, 0.8 MB of starts and 2 MB of
 * slots; gpt-tokenizer's tables held the same vocabulary as 200,000 strings, arrays and a Map:
 * 20–35 MB of live JS heap, ~50 MB of the router's RSS (docs/decisions.md, "Token counting in flat
 * tables").
 */

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

/** The rank file from its start, a chunk at a time: a chunk may be overwritten once the next is asked for. */
export type RankFile = () => AsyncIterable<Uint8Array>;

/** Lines, token bytes and the longest token of a rank file, read once without decoding. */
async function measure(read: RankFile): Promise<{ tokens: number; bytes: number; maxTokenBytes: number }> {
  let tokens = 0;
  let bytes = 0;
  let maxTokenBytes = 0;
  let chars = 0;
  let inRank = false;
  for await (const chunk of read()) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (inRank) {
        if (c === NEWLINE) {
          tokens++;
          inRank = false;
        }
      } else if (c === SPACE) {
        const length = (chars * 6) >> 3;
        bytes += length;
        maxTokenBytes = Math.max(maxTokenBytes, length);
        chars = 0;
        inRank = true;
      } else if (c !== PADDING) chars++;
    }
  }
  return { tokens: inRank ? tokens + 1 : tokens, bytes, maxTokenBytes };
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
   * its rank; ranks from 0 in line order (the table's index is the rank). The file is read twice, a
   * chunk at a time: once for the sizes, then to decode each token into the table. So only the
   * table's own arrays are allocated, at their final size, and nothing of the file's size: memory
   * the process allocates, even briefly, stays in its RSS (reading the file whole and trimming
   * working arrays after measured ~9 MB more: docs/decisions.md). Each chunk read is a turn of the
   * event loop for other work.
   */
  static async build(read: RankFile): Promise<RankTable> {
    const size = await measure(read);
    if (size.tokens < BYTE_TOKENS) throw new Error(`rank file: ${size.tokens} tokens, fewer than the ${BYTE_TOKENS} single bytes`);
    let slots = 1;
    while (slots < size.tokens * 2) slots *= 2;
    const bytes = new Uint8Array(size.bytes);
    const starts = new Uint32Array(size.tokens + 1);
    const table = new RankTable(bytes, starts, new Int32Array(slots), size.maxTokenBytes);

    let tokens = 0;
    let used = 0;
    let acc = 0;
    let bits = 0;
    let rank = 0;
    let digits = 0;
    let inRank = false;
    const malformed = () => new Error(`rank file: line ${tokens + 1} is not "<base64 bytes> ${tokens}"`);
    const endLine = () => {
      if (digits === 0 || rank !== tokens || used === starts[tokens]) throw malformed();
      starts[++tokens] = used;
      table.insert(tokens - 1);
      acc = bits = rank = digits = 0;
      inRank = false;
    };
    for await (const chunk of read()) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (inRank) {
          if (c === NEWLINE) {
            endLine();
            continue;
          }
          const d = c - DIGIT_0;
          if (d < 0 || d > 9) throw malformed();
          rank = rank * 10 + d;
          digits++;
        } else if (c === SPACE) inRank = true;
        else if (c !== PADDING) {
          const v = BASE64[c]!;
          if (v < 0) throw malformed();
          acc = ((acc << 6) | v) & 0xffffff;
          bits += 6;
          if (bits >= 8) {
            // More than the first reading found: the file changed in between.
            if (used === bytes.length || tokens === size.tokens) throw malformed();
            bits -= 8;
            bytes[used++] = acc >>> bits;
          }
        }
      }
    }
    if (inRank) endLine(); // the last line without its newline
    if (tokens !== size.tokens || used !== size.bytes) throw malformed();
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

/**
 * Prompt size in tokens. Counting is exact with the o200k_base tokenizer (GPT-4o's; other model
 * families tokenise within a few percent of it) but costly, so callers first use the bound every
 * prompt has for free: a token is at least one UTF-8 byte.
 *
 * The tokenizer's tables (routing/bpe-ranks.ts) cost under 5 MB, outside the JS heap's object graph,
 * and tens of ms to build, a chunk of the rank file per turn of the event loop (`loadTokenizer`);
 * the router builds them before serving, since any client can send a prompt that needs a count (only one longer in
 * bytes than a context window or a token threshold is counted).
 *
 * What a count costs depends on the text, and a client chooses the text: a run the tokenizer's
 * pre-split leaves whole (letters, punctuation or spaces with no break) is one piece to byte-pair
 * merge, O(n log n) in its length (routing/bpe.ts; gpt-tokenizer's merge was quadratic: one 64 KB
 * run took 7 s), and text made of pieces the vocabulary lacks costs about twice what prose does a
 * byte (bench/token-count.ts). `PromptTokenCounter` counts in segments of at most `SEGMENT_CHARS`,
 * one at a time, so that no step costs more than a fraction of a millisecond and the pipeline can
 * spread a count over turns of the event loop and stop it at a budget; what it did not count is
 * bounded by its bytes (pipeline/token-counting.ts).
 */
import { readO200kRanks } from '../providers/openai/o200k-ranks.js';
import { RankTable } from './bpe-ranks.js';
import { TokenCounter } from './bpe.js';

let counter: TokenCounter | null = null;
let loading: Promise<void> | null = null;

/** Builds the tables once; concurrent callers share the build. */
export function loadTokenizer(): Promise<void> {
  loading ??= (async () => {
    const ranks = await RankTable.build(readO200kRanks);
    counter = new TokenCounter(ranks);
  })();
  return loading;
}

export function tokenizerLoaded(): boolean {
  return counter !== null;
}

/**
 * The longest piece given to the tokenizer at once. Segments end before a space where they can, which
 * changes no count (prose, code); a cut inside a longer run is counted with a token of margin and
 * over-counts by up to a few: measured (bench/token-count.ts) +0.5 % on minified JSON and digit
 * runs; in 20,000 random runs one came out a token under the whole run's count. Shorter segments
 * over-count more; longer ones cost more a byte.
 */
export const SEGMENT_CHARS = 256;

/** Tokens a chat message costs beyond its text (role and separators), as OpenAI documents it. */
export const TOKENS_PER_MESSAGE = 4;
/** Every reply is primed with a few tokens. */
export const TOKENS_PER_REPLY = 3;
/** An image part, at OpenAI's high-detail rate for one 512 px tile plus the base: a conservative estimate. */
export const TOKENS_PER_IMAGE = 765;

/** The countable parts of a prompt, gathered in one pass over the messages (texts are not copied). */
export interface PromptText {
  /** Message texts and tool definitions. */
  readonly parts: readonly string[];
  /** Their UTF-8 length. */
  readonly bytes: number;
  readonly messages: number;
  readonly images: number;
  /** Tokens given as token ids (embeddings `input`): counted as they are. */
  readonly tokenIds: number;
}

/** Chat framing and what is counted without text; an embeddings input (no messages) has no framing. */
const overhead = (p: PromptText) => (p.messages === 0 ? 0 : p.messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY) + p.images * TOKENS_PER_IMAGE + p.tokenIds;

export function promptTokensBound(p: PromptText): number {
  return p.bytes + overhead(p);
}

const SPACE = 0x20;
const isSpace = (c: number) => c === SPACE || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** Before a space that follows a non-space: no pre-split piece of o200k spans it, so counts on either side add up exactly. */
const exactCut = (text: string, i: number) => text.charCodeAt(i) === SPACE && !isSpace(text.charCodeAt(i - 1));

/**
 * Where the segment of `text` starting at `start` ends: at the last exact cut within
 * `SEGMENT_CHARS`, else at the limit, never inside a surrogate pair.
 */
export function segmentEnd(text: string, start: number): number {
  const limit = start + SEGMENT_CHARS;
  if (limit >= text.length) return text.length;
  for (let i = limit; i > start; i--) if (exactCut(text, i)) return i;
  return isLowSurrogate(text.charCodeAt(limit)) ? limit - 1 : limit;
}

/**
 * One prompt's count, a segment per `step()`. `tokens()` is the o200k count (within the cuts' margin,
 * see SEGMENT_CHARS) of the text counted so far plus one token a byte for the rest, the free bound,
 * wherever the counting stops.
 */
export class PromptTokenCounter {
  private part = 0;
  private offset = 0;
  private counted = 0;
  private countedBytes = 0;

  constructor(private readonly prompt: PromptText) {}

  get done(): boolean {
    return this.part >= this.prompt.parts.length;
  }

  /** Counts the next segment (the tokenizer must be loaded); false once the whole prompt is counted. */
  step(): boolean {
    if (this.done) return false;
    const text = this.prompt.parts[this.part]!;
    const end = segmentEnd(text, this.offset);
    // The halves of a run cut apart may merge into one token fewer than the whole run: a token of margin.
    if (end < text.length && !exactCut(text, end)) this.counted += 1;
    const segment = text.slice(this.offset, end);
    this.counted += counter!.count(segment);
    this.countedBytes += Buffer.byteLength(segment, 'utf8');
    if (end < text.length) this.offset = end;
    else {
      this.part += 1;
      this.offset = 0;
    }
    return !this.done;
  }

  tokens(): number {
    return this.counted + (this.prompt.bytes - this.countedBytes) + overhead(this.prompt);
  }
}

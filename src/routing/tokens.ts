/**
 * Prompt size in tokens. Counting is exact with the o200k_base tokenizer (GPT-4o's; other model
 * families tokenise within a few percent of it) but costs about 0.3 ms per 10 KB, so callers first
 * use the bound every prompt has for free: a token is at least one UTF-8 byte.
 *
 * The tokenizer's tables cost about 60 MB of memory and 180 ms to load, and most routers never need
 * them (only a prompt longer in bytes than a context window is ever counted), so the pipeline loads
 * them, asynchronously, before the first request that may need a count (`loadTokenizer`).
 */
type CountTokens = (text: string) => number;
let countTokens: CountTokens | null = null;

export async function loadTokenizer(): Promise<void> {
  countTokens ??= (await import('gpt-tokenizer/encoding/o200k_base')).countTokens;
}

export function tokenizerLoaded(): boolean {
  return countTokens !== null;
}

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
}

/** Chat framing; an embeddings input (no messages) has none. */
const overhead = (p: PromptText) => (p.messages === 0 ? 0 : p.messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY) + p.images * TOKENS_PER_IMAGE;

export function promptTokensBound(p: PromptText): number {
  return p.bytes + overhead(p);
}

/** Exact once the tokenizer is loaded; until then the bound, which never under-counts. */
export function promptTokens(p: PromptText): number {
  const count = countTokens;
  if (count === null) return promptTokensBound(p);
  let n = 0;
  for (const part of p.parts) n += count(part);
  return n + overhead(p);
}

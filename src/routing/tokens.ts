/**
 * Prompt size in tokens. Counting is exact with the o200k_base tokenizer (GPT-4o's; other model
 * families tokenise within a few percent of it) but costs about 0.3 ms per 10 KB, so callers first
 * use the bound every prompt has for free: a token is at least one UTF-8 byte.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/** Tokens a chat message costs beyond its text (role and separators), as OpenAI documents it. */
export const TOKENS_PER_MESSAGE = 4;
/** Every reply is primed with a few tokens. */
export const TOKENS_PER_REPLY = 3;
/** An image part, at OpenAI's high-detail rate for one 512 px tile plus the base: a conservative estimate. */
export const TOKENS_PER_IMAGE = 765;

/** The countable parts of a prompt, gathered in one pass over the messages. */
export interface PromptText {
  /** Message texts and tool definitions, joined. */
  readonly text: string;
  readonly messages: number;
  readonly images: number;
}

export function promptTokensBound(p: PromptText): number {
  return Buffer.byteLength(p.text, 'utf8') + p.messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY + p.images * TOKENS_PER_IMAGE;
}

export function promptTokens(p: PromptText): number {
  return countTokens(p.text) + p.messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY + p.images * TOKENS_PER_IMAGE;
}

/** Token usage normalised across providers, and its price. */
import type { Price } from '../config/compile.js';

export interface Usage {
  readonly promptTokens: number;
  /** Part of `promptTokens` served from the provider's prompt cache. */
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  /** Part of `completionTokens` spent on hidden reasoning. */
  readonly reasoningTokens: number;
  readonly totalTokens: number;
}

export const NO_USAGE: Usage = { promptTokens: 0, cachedPromptTokens: 0, completionTokens: 0, reasoningTokens: 0, totalTokens: 0 };

/** Integer nano-USD: uncached prompt, cached prompt and completion tokens each at their own price. */
export function costNanos(usage: Usage, price: Price): number {
  const uncached = usage.promptTokens - usage.cachedPromptTokens;
  return Math.round(
    uncached * price.inputNanosPerToken +
      usage.cachedPromptTokens * price.cachedInputNanosPerToken +
      usage.completionTokens * price.outputNanosPerToken,
  );
}

/** A provider's token count as a count: missing, negative or not a number reads as none. */
export const tokenCount = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/** OpenAI's `CompletionUsage`, as translated answers report it. */
export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

export function openAiUsageOf(usage: Usage): OpenAiUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

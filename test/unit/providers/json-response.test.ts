/** Usage read from a JSON response: whole when small, cut out of the tail of a large one (an embeddings batch). */
import { describe, expect, it } from 'vitest';
import { embeddingsResponse } from '../../../src/mock/embeddings.js';
import { observeResponse } from '../../../src/providers/openai/response.js';

function observe(body: string, chunkBytes: number) {
  const observer = observeResponse('application/json', false)!;
  const bytes = Buffer.from(body);
  for (let at = 0; at < bytes.length; at += chunkBytes) observer.push(bytes.subarray(at, at + chunkBytes), at + chunkBytes >= bytes.length);
  return observer.report();
}

describe('JSON responses', () => {
  it('a large embeddings batch: usage and model from its tail, whatever the chunking', () => {
    const body = JSON.stringify(embeddingsResponse({ model: 'text-embedding-3-small', input: Array.from({ length: 200 }, (_, i) => `document number ${i}`) }));
    expect(body.length).toBeGreaterThan(64 * 1024); // past the whole-parse limit
    for (const chunk of [1000, 65_536]) {
      expect(observe(body, chunk)).toMatchObject({ responseModel: 'text-embedding-3-small', usage: { promptTokens: 1000, completionTokens: 0, totalTokens: 1000 } });
    }
  });

  it('a large chat completion whose text mentions "usage": the real usage object, not the text', () => {
    const content = `${'x'.repeat(70_000)} "usage": {"prompt_tokens": 999}`;
    const body = JSON.stringify({ id: 'c', model: 'gpt-4o', choices: [{ message: { role: 'assistant', content } }], usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 } });
    expect(observe(body, 16_384)).toMatchObject({ responseModel: 'gpt-4o', usage: { promptTokens: 12, completionTokens: 34 } });
  });

  it('a large body that is not JSON: nothing billed, no throw', () => {
    expect(observe(`<html>${'x'.repeat(100_000)}</html>`, 8192)).toMatchObject({ usage: null, responseModel: null });
  });
});

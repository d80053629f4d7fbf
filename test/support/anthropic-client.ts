/** Reading a translated body as the official Anthropic SDK does: a client whose fetch answers with the given bytes. */
import Anthropic from '@anthropic-ai/sdk';

export function sdkClient(bytes: Buffer, status: number, contentType: string): Anthropic {
  return new Anthropic({
    apiKey: 'test-key',
    baseURL: 'http://gateway.test',
    maxRetries: 0,
    fetch: async () => new Response(new Uint8Array(bytes), { status, headers: { 'content-type': contentType } }),
  });
}

export const ASK = { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user' as const, content: 'hi' }] };

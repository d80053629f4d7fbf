/** Client-side helpers shared by the integration tests: real HTTP and the official openai SDK. */
import { request } from 'node:http';
import type OpenAI from 'openai';

/** Reads a stream to its end: its text and the usage chunk's usage, if any. */
export async function readStream(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ text: string; usage: OpenAI.CompletionUsage | null }> {
  let text = '';
  let usage: OpenAI.CompletionUsage | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    usage = chunk.usage ?? usage;
  }
  return { text, usage };
}

/** Streams a completion with `include_usage` and returns the text and the usage chunk's usage. */
export async function streamWithUsage(client: OpenAI, model: string): Promise<{ text: string; usage: OpenAI.CompletionUsage | null }> {
  return readStream(await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say hello' }] }));
}

/** A raw POST of a chat-completions body (an object is JSON-encoded), with extra headers. */
export function postChat(baseUrl: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    signal,
  });
}

/** An HTTP request with the headers given, `Host` included (fetch sets its own): what a browser after DNS rebinding sends. */
export function rawRequest(
  url: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A `fetch` for an SDK client's options that keeps the body of every request it sends, as sent. */
export function recordingFetch(): { fetch: typeof fetch; sent: string[] } {
  const sent: string[] = [];
  const recording: typeof fetch = (input, init) => {
    if (typeof init?.body === 'string') sent.push(init.body);
    return fetch(input, init);
  };
  return { fetch: recording, sent };
}

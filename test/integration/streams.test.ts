/**
 * What a streaming client receives through real Envoy, byte for byte: the chunks OpenAI would send
 * it (no `usage` member unless it asked), nothing after a malformed provider event but the router's
 * error event, and a usage record marked complete only when the client got the whole answer.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MALFORMED_STREAM_EVENT } from '../../src/providers/openai/response.js';
import type { Behaviour } from '../../src/mock/behaviour.js';
import type { UsageRecord } from '../../src/state/store.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

const CHUNKS = 12;
let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({ deployments: [{ name: 'streamer', group: 'gpt-4o-mini', behaviour: { chunks: CHUNKS } }] });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

const mock = () => stack.mocks.streamer![0]!;
const messages = [{ role: 'user' as const, content: 'tell me a story' }];
const NORMAL: Partial<Behaviour> = { malformed_after_chunks: undefined, cut_after_chunks: undefined, cut_mode: 'reset', chunk_interval_ms: 0 };

/** The data of each event, parsed (`[DONE]` as is). */
const events = (raw: string): unknown[] =>
  raw
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : (JSON.parse(e.slice(6)) as unknown)));

/** Ids and timestamps differ between two answers; nothing else may. */
const normalised = (raw: string) => raw.replace(/"id":"[^"]*"/g, '"id":"-"').replace(/"created":\d+/g, '"created":0');

describe('usage in streamed chunks', () => {
  it('a client that did not ask for usage gets the bytes the provider sends such a client: no usage member in any chunk', async () => {
    mock().setBehaviour(NORMAL);
    const viaRouter = await (await postChat(stack.url, { model: 'gpt-4o-mini', stream: true, messages })).text();
    const direct = await (await postChat(`http://127.0.0.1:${mock().port}`, { model: 'gpt-4o-mini-provider', stream: true, messages })).text();
    expect(direct).not.toContain('"usage"');
    expect(normalised(viaRouter)).toBe(normalised(direct));
    expect(events(viaRouter)).toHaveLength(CHUNKS + 3);
  });

  it('the openai SDK: without include_usage no chunk has a usage field; with it every chunk has usage null but the last, which has no choices', async () => {
    mock().setBehaviour(NORMAL);
    const without = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages });
    let chunks = 0;
    for await (const c of without) {
      chunks++;
      expect('usage' in c).toBe(false);
    }
    expect(chunks).toBe(CHUNKS + 2);
    const withUsage = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages });
    const all: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of withUsage) all.push(c);
    const last = all.pop()!;
    expect(all.every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: CHUNKS });
  });
});

describe('a malformed provider event', () => {
  it.each([
    ['did not ask for usage', {}],
    ['asked for usage', { stream_options: { include_usage: true } }],
  ])('client %s: after the malformed event it gets the error event and nothing else', async (_name, extra) => {
    mock().setBehaviour({ ...NORMAL, malformed_after_chunks: 3 });
    const raw = await (await postChat(stack.url, { model: 'gpt-4o-mini', stream: true, messages, ...extra })).text();
    const malformedEnd = raw.indexOf('\n\n', raw.indexOf('data: <html>')) + 2;
    expect(malformedEnd).toBeGreaterThan(1);
    // Before it: the role chunk and 3 content chunks, as the provider sent them.
    expect(events(raw.slice(0, raw.indexOf('data: <html>')))).toHaveLength(4);
    expect(raw.slice(malformedEnd)).toBe(MALFORMED_STREAM_EVENT.toString('utf8'));
  });
});

/** The usage record of the next request to finish, once the router has written it. */
async function nextRecord(before: number): Promise<UsageRecord> {
  for (let i = 0; i < 200; i++) {
    const log = await stack.usageLog();
    if (log.length > before) {
      expect(log).toHaveLength(before + 1);
      return log[before]!;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no usage record');
}

/** Reads the stream with the openai SDK; returns whether it raised. */
async function readWithSdk(options: { include_usage?: boolean; cancelAfter?: number } = {}): Promise<{ raised: boolean; chunks: number }> {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages,
    ...(options.include_usage === undefined ? {} : { stream_options: { include_usage: options.include_usage } }),
  });
  let chunks = 0;
  try {
    for await (const _ of stream) {
      if (++chunks === options.cancelAfter) {
        stream.controller.abort();
        return { raised: false, chunks };
      }
    }
    return { raised: false, chunks };
  } catch {
    return { raised: true, chunks };
  }
}

describe('usage records: complete only when the client got the whole answer', () => {
  it.each([
    ['the provider ends without [DONE] or finish_reason', { cut_after_chunks: 4, cut_mode: 'close' }, true],
    ['the provider resets the connection', { cut_after_chunks: 4, cut_mode: 'reset' }, true],
    ['a malformed event mid-stream', { malformed_after_chunks: 4 }, false],
    ['a malformed event after the usage report, before [DONE]', { malformed_after_chunks: CHUNKS }, false],
    ['a malformed event after the usage report, client asked for usage', { malformed_after_chunks: CHUNKS }, true],
  ] as const)('%s: the SDK raises and the record says incomplete', async (_name, behaviour, includeUsage) => {
    mock().setBehaviour({ ...NORMAL, ...behaviour });
    const before = (await stack.usageLog()).length;
    const read = await readWithSdk(includeUsage ? { include_usage: true } : {});
    expect(read.raised).toBe(true);
    expect(await nextRecord(before)).toMatchObject({ deployment: 'streamer', stream: true, status: 200, complete: false });
  });

  it('the client cancels mid-stream: the record says incomplete', async () => {
    // 50 ms between tokens: the cancel after the second chunk comes long before the provider's end.
    mock().setBehaviour({ ...NORMAL, chunk_interval_ms: 50 });
    const before = (await stack.usageLog()).length;
    expect(await readWithSdk({ cancelAfter: 2 })).toEqual({ raised: false, chunks: 2 });
    expect(await nextRecord(before)).toMatchObject({ deployment: 'streamer', stream: true, complete: false });
  });

  it.each([
    ['did not ask for usage', {}],
    ['asked for usage', { include_usage: true }],
  ])('a whole stream (client %s) is recorded complete, with the usage the provider reported', async (_name, options) => {
    mock().setBehaviour(NORMAL);
    const before = (await stack.usageLog()).length;
    expect(await readWithSdk(options)).toEqual({ raised: false, chunks: CHUNKS + 2 + ('include_usage' in options ? 1 : 0) });
    expect(await nextRecord(before)).toMatchObject({ complete: true, usageEstimated: false, completionTokens: CHUNKS });
  });
});

/**
 * OpenAI streams translated for Anthropic SDK clients: the same bytes and report however Envoy
 * slices the stream (whole, byte by byte, split at every offset), and output the official
 * `@anthropic-ai/sdk` MessageStream accumulates into the message the OpenAI stream carried.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ToAnthropicStream } from '../../../../../src/providers/anthropic/inbound/stream.js';
import { ASK, sdkClient } from '../../../../support/anthropic-client.js';
import { assemble, expectSameHoweverSliced, sdkRead } from '../../../../support/openai-chunks.js';
import { sseEvents } from '../../../../support/sse-events.js';
import { feed } from '../../../../support/streams.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures/streams');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const translate = (bytes: Buffer, parts: Buffer[] = [bytes]) => {
  const t = new ToAnthropicStream();
  return { t, out: feed(t, parts) };
};
const sdkMessage = (out: Buffer) => sdkClient(out, 200, 'text/event-stream').messages.stream(ASK).finalMessage();

const STOP: Readonly<Record<string, string>> = { stop: 'end_turn', tool_calls: 'tool_use', length: 'max_tokens' };

describe.each(['openai-documented.sse', 'openai-mock.sse', 'openai-tools.sse', 'openai-error.sse'])('%s', (name) => {
  const transcript = fixture(name);

  it('gives the same bytes and report however the stream is sliced', () => {
    expectSameHoweverSliced(() => new ToAnthropicStream(), transcript);
  });

  it("is read by the Anthropic SDK as the answer the OpenAI stream carried", async () => {
    // What the OpenAI stream carries, read by the openai SDK, not by the translator.
    const { chunks, error: openAiError } = await sdkRead(transcript);
    const expected = assemble(chunks);
    const { t, out } = translate(transcript);
    const read = sdkMessage(out);
    if (openAiError !== null) {
      await expect(read).rejects.toBeInstanceOf(APIError);
      await expect(read).rejects.toMatchObject({ status: undefined, error: { type: 'error', error: { type: 'api_error', message: (openAiError as Error).message } } });
      expect(t.report()).toMatchObject({ complete: false, usage: null });
      return;
    }
    const message = await read;
    expect(message).toMatchObject({ id: chunks[0]!.id, model: chunks[0]!.model, role: 'assistant', stop_reason: STOP[expected.finishReason!], stop_sequence: null });
    const text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    expect(text).toBe(expected.text);
    const tools = message.content.flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, input: b.input }] : []));
    expect(tools).toEqual(expected.calls.map((c) => ({ id: c.id, name: c.name, input: JSON.parse(c.arguments) })));
    const usage = expected.usage;
    expect(message.usage).toMatchObject({
      input_tokens: (usage?.prompt_tokens ?? 0) - (usage?.prompt_tokens_details?.cached_tokens ?? 0),
      cache_read_input_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
      output_tokens: usage?.completion_tokens ?? 0,
    });
    expect(t.report()).toMatchObject({ complete: true, responseModel: chunks[0]!.model });
    expect(t.report().usage?.promptTokens ?? 0).toBe(usage?.prompt_tokens ?? 0);
  });
});

describe('the event sequence', () => {
  it('opens and closes each block in order, by index, and ends with message_delta and message_stop', () => {
    const { out } = translate(fixture('openai-tools.sse'));
    const events = sseEvents(out.toString('utf8'));
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const indexes = events.filter((e) => e.event!.startsWith('content_block')).map((e) => JSON.parse(e.data).index);
    expect(indexes).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
  });

  it('a stream that ends after its finish_reason without [DONE] is finished; one that ends before gets an error', async () => {
    const transcript = fixture('openai-tools.sse').toString('utf8');
    const noDone = Buffer.from(transcript.slice(0, transcript.indexOf('data: [DONE]')));
    const finished = translate(noDone);
    expect((await sdkMessage(finished.out)).stop_reason).toBe('tool_use');
    expect(finished.t.report().complete).toBe(true);

    const cut = Buffer.from(transcript.slice(0, transcript.indexOf('"finish_reason":"tool_calls"') - 200));
    const broken = translate(cut);
    await expect(sdkMessage(broken.out)).rejects.toMatchObject({ error: { error: { type: 'api_error' } } });
    expect(broken.t.report()).toMatchObject({ complete: false, usage: null });
    expect(broken.t.report().contentEvents).toBeGreaterThan(0);
  });

  it('an event that is not JSON ends the stream with an error and nothing after it', () => {
    const { out } = translate(Buffer.from('data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[]}\n\ndata: <html>\n\ndata: {"id":"x","choices":[{"index":0,"delta":{"content":"late"}}]}\n\n'));
    const events = sseEvents(out.toString('utf8'));
    expect(events.map((e) => e.event)).toEqual(['message_start', 'error']);
  });

  it('a fragment for a tool call whose block was closed is refused, not appended to another block', () => {
    const chunk = (delta: object) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const { out } = translate(
      Buffer.from(
        chunk({ tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{' } }] }) +
          chunk({ tool_calls: [{ index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '{}' } }] }) +
          chunk({ tool_calls: [{ index: 0, function: { arguments: '}' } }] }),
      ),
    );
    expect(sseEvents(out.toString('utf8')).at(-1)!.event).toBe('error');
  });

  it('rate limits mid-stream reach the client as rate_limit_error events', () => {
    const { out } = translate(Buffer.from('data: {"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}\n\n'));
    expect(JSON.parse(sseEvents(out.toString('utf8')).at(-1)!.data)).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
  });
});

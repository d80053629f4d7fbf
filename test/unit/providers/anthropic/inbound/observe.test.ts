/**
 * An Anthropic SDK client served by deployments of other providers: each provider's own observer
 * (its stream in OpenAI's format, its usage) chained with the translation for the client, however
 * Envoy slices the stream, read by the official `@anthropic-ai/sdk` as the answer; billed as the
 * provider reported.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { observeForAnthropicClient } from '../../../../../src/providers/anthropic/inbound/observe.js';
import { observeResponse as geminiObserver } from '../../../../../src/providers/gemini/observe.js';
import { observeResponse as openAiObserver } from '../../../../../src/providers/openai/response.js';
import { ASK, sdkClient } from '../../../../support/anthropic-client.js';
import { expectSameHoweverSliced } from '../../../../support/openai-chunks.js';
import { feed } from '../../../../support/streams.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures/streams');
const SSE = 'text/event-stream';

const PROVIDERS = [
  { name: 'openai-tools.sse', provider: () => openAiObserver(SSE, false) },
  { name: 'gemini-tools.sse', provider: () => geminiObserver(SSE, false, 1) },
];

describe.each(PROVIDERS)('$name', ({ name, provider }) => {
  const transcript = readFileSync(join(FIXTURES, name));
  const chained = () => observeForAnthropicClient(provider(), SSE, 200)!;

  it('gives the same bytes and report however the stream is sliced', () => {
    expectSameHoweverSliced(chained, transcript);
  });

  it("is read by the SDK as a whole message with its tool calls, billed with the provider's usage", async () => {
    const alone = provider()!;
    feed(alone, [transcript]);
    const observer = chained();
    const message = await sdkClient(feed(observer, [transcript]), 200, SSE).messages.stream(ASK).finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.some((b) => b.type === 'tool_use')).toBe(true);
    const usage = alone.report().usage!;
    expect(message.usage).toMatchObject({ input_tokens: usage.promptTokens - usage.cachedPromptTokens, output_tokens: usage.completionTokens });
    expect(observer.report()).toEqual({ ...alone.report(), complete: true });
  });
});

it("a provider's error answer reaches the client as Anthropic's error at Anthropic's status", async () => {
  const observer = observeForAnthropicClient(openAiObserver('application/json', false), 'application/json', 503)!;
  const bytes = feed(observer, [Buffer.from('{"error":{"message":"Overloaded.","type":"server_error","param":null,"code":null}}')]);
  await expect(sdkClient(bytes, 529, 'application/json').messages.create(ASK)).rejects.toMatchObject({ status: 529, type: 'overloaded_error' });
  expect(observer.report().complete).toBe(false);
});

/**
 * Messages requests from Anthropic SDK clients: refused as Anthropic refuses them (status, type,
 * wording), and translated into the OpenAI request that asks the same of another provider.
 */
import { describe, expect, it } from 'vitest';
import { AnthropicRefusal } from '../../../../../src/providers/anthropic/inbound/errors.js';
import { checkMessagesRequest, toOpenAiRequest } from '../../../../../src/providers/anthropic/inbound/request.js';

const base = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }] };

function refusal(run: () => unknown): { status: number; body: unknown } {
  try {
    run();
  } catch (error) {
    if (error instanceof AnthropicRefusal) return { status: error.status, body: JSON.parse(JSON.stringify(error)) };
    throw error;
  }
  throw new Error('not refused');
}

const invalid = (message: string) => ({ status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message } } });

describe('checkMessagesRequest', () => {
  it.each([
    [{ messages: base.messages, model: 'm' }, 'max_tokens: Field required'],
    [{ max_tokens: 1, model: 'm' }, 'messages: Field required'],
    [{ max_tokens: 1, messages: base.messages }, 'model: Field required'],
    [{ ...base, messages: [] }, 'messages: at least one message is required'],
    [{ ...base, max_tokens: 'many' }, 'max_tokens: Input should be a valid integer'],
    [{ ...base, n: 2 }, 'n: Extra inputs are not permitted'],
    [{ ...base, messages: [{ role: 'system', content: 'x' }] }, "messages.0.role: Input should be 'user' or 'assistant'"],
    [{ ...base, messages: [{ role: 'user' }] }, 'messages.0.content: Input should be a valid string or list'],
  ])('refuses %j as Anthropic does', (body, message) => {
    expect(refusal(() => checkMessagesRequest(body))).toEqual(invalid(message));
  });

  it("accepts the router's own fields besides Anthropic's", () => {
    expect(() => checkMessagesRequest({ ...base, tags: ['team-a'], disable_fallbacks: true, metadata: { user_id: 'u', tags: ['x'] } })).not.toThrow();
  });

  it('checks count_tokens requests, which need no max_tokens', () => {
    expect(() => checkMessagesRequest({ model: 'm', messages: base.messages }, 'count_tokens')).not.toThrow();
    expect(refusal(() => checkMessagesRequest({ ...base }, 'count_tokens'))).toEqual(invalid('max_tokens: Extra inputs are not permitted'));
  });
});

describe('toOpenAiRequest', () => {
  it('translates a conversation with a system prompt, images, tool calls and their results, in order', () => {
    const out = toOpenAiRequest({
      ...base,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this and the weather?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hidden', signature: 'sig' },
            { type: 'text', text: 'A cat. Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Zürich' } },
            { type: 'tool_use', id: 'toolu_2', name: 'time', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'clock broken' }], is_error: true },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
      stop_sequences: ['END'],
      temperature: 0.5,
      top_p: 0.9,
      metadata: { user_id: 'user-42' },
      tools: [{ name: 'weather', description: 'Weather now', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stream: true,
    });
    expect(out).toEqual({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this and the weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'A cat. Checking.' }],
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'Error:' }, { type: 'text', text: 'clock broken' }] },
        { role: 'user', content: [{ type: 'text', text: 'Thanks' }] },
      ],
      max_tokens: 256,
      stop: ['END'],
      temperature: 0.5,
      top_p: 0.9,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      user: 'user-42',
    });
  });

  it.each([
    [{ type: 'auto' }, { tool_choice: 'auto' }],
    [{ type: 'none' }, { tool_choice: 'none' }],
    [{ type: 'tool', name: 'weather' }, { tool_choice: { type: 'function', function: { name: 'weather' } } }],
  ])('tool_choice %j → %j', (choice, expected) => {
    expect(toOpenAiRequest({ ...base, tool_choice: choice })).toMatchObject(expected);
  });

  it('a string system prompt, a failed tool result as a string, and structured output', () => {
    const out = toOpenAiRequest({
      ...base,
      system: 'Be brief.',
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'timeout', is_error: true }] },
      ],
      output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
      service_tier: 'standard_only',
    });
    expect(out.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't', content: 'Error: timeout' },
    ]);
    expect(out).toMatchObject({ response_format: { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object' }, strict: true } }, service_tier: 'default' });
  });

  it("carries the router's fields over for the router to read", () => {
    expect(toOpenAiRequest({ ...base, tags: ['a'], metadata: { user_id: 'u', tags: ['b'], route_preference: 'cost' } })).toMatchObject({
      tags: ['a'],
      user: 'u',
      metadata: { tags: ['b'], route_preference: 'cost' },
    });
  });

  it.each([
    [{ top_k: 5 }, 'top_k: not supported'],
    [{ thinking: { type: 'enabled', budget_tokens: 2048 } }, "thinking: type 'enabled' is not supported"],
    [{ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'x' } }] }] }, "messages.0.content.0.type: 'document' blocks are not supported"],
    [{ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, "tools.0.type: 'web_search_20250305' tools are not supported"],
    [{ output_config: { effort: 'high' } }, 'output_config.effort: not supported'],
    [{ metadata: { user_id: 'u', team: 'x' } }, 'metadata.team: Extra inputs are not permitted'],
  ])('refuses %j with a 400 naming the field', (extra, message) => {
    const { status, body } = refusal(() => toOpenAiRequest({ ...base, ...extra }));
    expect(status).toBe(400);
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(message) } });
  });

  it('passes a disabled thinking setting and cache breakpoints without refusing', () => {
    const out = toOpenAiRequest({ ...base, thinking: { type: 'disabled' }, cache_control: { type: 'ephemeral' } });
    expect(out).toEqual({ model: base.model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 256 });
  });
});

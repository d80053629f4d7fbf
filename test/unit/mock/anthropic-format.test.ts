/** The Anthropic Messages mock (strict by default): Anthropic's rejections, answers, stream, tools, prompt-cache usage and 529. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';
import { sseEvents } from '../../support/sse-events.js';

const KEY = 'sk-ant-test';
let mock: MockInstance;
const HEADERS = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };
const MESSAGE = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'abcdefgh' }] };
const post = (path: string, body: unknown, headers: Record<string, string> = HEADERS) =>
  fetch(`http://127.0.0.1:${mock.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  mock = await startMockInstance({ name: 'claude', port: 0, format: 'anthropic', api_key: KEY, behaviour: { chunks: 3 } });
});
afterAll(async () => {
  await mock.close();
});

const noVersion = { 'x-api-key': KEY };

describe('Anthropic mock: rejections', () => {
  it.each<[string, () => Promise<Response>, number, string, string]>([
    ['no x-api-key', () => post('/v1/messages', MESSAGE, { 'anthropic-version': '2023-06-01' }), 401, 'authentication_error', 'x-api-key header is required'],
    ['the key as a Bearer token', () => post('/v1/messages', MESSAGE, { authorization: `Bearer ${KEY}`, 'anthropic-version': '2023-06-01' }), 401, 'authentication_error', 'Invalid bearer token'],
    ['a wrong key', () => post('/v1/messages', MESSAGE, { ...HEADERS, 'x-api-key': 'sk-ant-other' }), 401, 'authentication_error', 'invalid x-api-key'],
    ['no anthropic-version', () => post('/v1/messages', MESSAGE, noVersion), 400, 'invalid_request_error', 'anthropic-version: header is required'],
    ['an unknown anthropic-version', () => post('/v1/messages', MESSAGE, { ...HEADERS, 'anthropic-version': '2023-10-01' }), 400, 'invalid_request_error', 'anthropic-version: "2023-10-01" is not a valid version'],
    ['an unknown parameter', () => post('/v1/messages', { ...MESSAGE, tags: ['a'] }), 400, 'invalid_request_error', 'tags: Extra inputs are not permitted'],
    ['an OpenAI parameter', () => post('/v1/messages', { ...MESSAGE, stop: ['x'] }), 400, 'invalid_request_error', 'stop: Extra inputs are not permitted'],
    ['no max_tokens', () => post('/v1/messages', { model: MESSAGE.model, messages: MESSAGE.messages }), 400, 'invalid_request_error', 'max_tokens: Field required'],
    ['no model', () => post('/v1/messages', { max_tokens: 10, messages: MESSAGE.messages }), 400, 'invalid_request_error', 'model: Field required'],
    ['max_tokens as a string', () => post('/v1/messages', { ...MESSAGE, max_tokens: '100' }), 400, 'invalid_request_error', 'max_tokens: Input should be a valid integer'],
    ['messages as a string', () => post('/v1/messages', { ...MESSAGE, messages: 'hi' }), 400, 'invalid_request_error', 'messages: Input should be a valid list'],
    ['no message', () => post('/v1/messages', { ...MESSAGE, messages: [] }), 400, 'invalid_request_error', 'messages: at least one message is required'],
    ['count_tokens with max_tokens', () => post('/v1/messages/count_tokens', MESSAGE), 400, 'invalid_request_error', 'max_tokens: Extra inputs are not permitted'],
    ['OpenAI’s path', () => post('/v1/chat/completions', MESSAGE), 404, 'not_found_error', 'Not Found'],
  ])('%s', async (_, send, status, type, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { request_id: string };
    expect(body).toEqual({ type: 'error', error: { type, message }, request_id: expect.stringMatching(/^req_\w+$/) });
    expect(res.headers.get('request-id')).toBe(body.request_id);
  });

  it('answers a scripted 529 as overloaded_error, as SDKs expect to retry it', async () => {
    mock.enqueue([{ status: 529 }]);
    const res = await post('/v1/messages', MESSAGE);
    expect(res.status).toBe(529);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect((await post('/v1/messages', MESSAGE)).status).toBe(200);
  });

  it('answers its per-minute limit as rate_limit_error', async () => {
    const limited = await startMockInstance({ name: 'lim', port: 0, format: 'anthropic', behaviour: { limit_requests_per_minute: 1 } }, { limitsClock: () => 0 });
    try {
      const send = () => fetch(`http://127.0.0.1:${limited.port}/v1/messages`, { method: 'POST', headers: HEADERS, body: JSON.stringify(MESSAGE) });
      expect((await send()).status).toBe(200);
      const refused = await send();
      expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '60']);
      expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
    } finally {
      await limited.close();
    }
  });
});

describe('Anthropic mock: answers', () => {
  it('a JSON message with usage, recorded with its headers and body', async () => {
    mock.reset();
    const res = await post('/v1/messages', { ...MESSAGE, system: 'Be brief.', temperature: 0.5, metadata: { user_id: 'u1' }, stop_sequences: ['END'] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: expect.stringMatching(/^msg_mock_claude_\d+$/),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Hello wörld,' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3, service_tier: 'standard' },
    });
    expect(mock.stats()).toMatchObject({ format: 'anthropic', strict: true, requests: 1, usage: { promptTokens: 5, completionTokens: 3 } });
    expect(mock.stats().last[0]).toMatchObject({ path: '/v1/messages', headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' }, body: { system: 'Be brief.' } });
  });

  it('prompt caching: the marked prefix is written once, then read', async () => {
    mock.reset();
    const system = [{ type: 'text', text: 'x'.repeat(400), cache_control: { type: 'ephemeral' } }];
    const usage = async () => ((await (await post('/v1/messages', { ...MESSAGE, system })).json()) as { usage: Record<string, number> }).usage;
    expect(await usage()).toMatchObject({ input_tokens: 2, cache_creation_input_tokens: 100, cache_read_input_tokens: 0 });
    expect(await usage()).toMatchObject({ input_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 100 });
    expect(mock.stats().usage).toMatchObject({ promptTokens: 204, cacheCreationTokens: 100, cacheReadTokens: 100 });
  });

  it('tools: a tool_use block, and text once the tool result comes back', async () => {
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} } }];
    const first = (await (await post('/v1/messages', { ...MESSAGE, tools, tool_choice: { type: 'auto' } })).json()) as { stop_reason: string; content: Array<{ type: string; id?: string }> };
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b) => b.type === 'tool_use')!;
    expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather', input: {} });
    const messages = [...MESSAGE.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '21°C' }] }];
    const second = (await (await post('/v1/messages', { ...MESSAGE, messages, tools })).json()) as { stop_reason: string };
    expect(second.stop_reason).toBe('end_turn');
  });

  it('a stream: the documented events, usage counted once it was sent', async () => {
    mock.reset();
    const res = await post('/v1/messages', { ...MESSAGE, stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = sseEvents(await res.text());
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(mock.stats().usage).toMatchObject({ promptTokens: 2, completionTokens: 3 });
  });

  it('a cut stream ends without message_stop', async () => {
    const res = await post('/v1/messages', { ...MESSAGE, stream: true }, { ...HEADERS, 'x-mock-cut-after-chunks': '1' });
    await expect(res.text()).rejects.toThrow();
  });

  it('count_tokens', async () => {
    const res = await post('/v1/messages/count_tokens', { model: MESSAGE.model, system: 'abcd', messages: MESSAGE.messages });
    expect(await res.json()).toEqual({ input_tokens: 3 });
  });
});

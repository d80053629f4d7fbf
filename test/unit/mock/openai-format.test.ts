/** The strict OpenAI mock rejects what api.openai.com rejects, with its status and body, and serves the official SDK. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';

const KEY = 'sk-test-0123456789abcdef';
let mock: MockInstance;
let lenient: MockInstance;
const base = (m: MockInstance) => `http://127.0.0.1:${m.port}`;
const CHAT = { model: 'gpt-4o', messages: [{ role: 'user', content: 'abcdefgh' }] };

const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }, m = mock) =>
  fetch(`${base(m)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  mock = await startMockInstance({ name: 'strict', port: 0, format: 'openai', strict: true, api_key: KEY, behaviour: { chunks: 4 } });
  lenient = await startMockInstance({ name: 'lenient', port: 0, behaviour: { chunks: 4 } });
});
afterAll(async () => {
  await mock.close();
  await lenient.close();
});

const err = (message: string, param: string | null = null, code: string | null = null) => ({ error: { message, type: 'invalid_request_error', param, code } });

describe('strict OpenAI mock: rejections', () => {
  it.each<[string, () => Promise<Response>, number, unknown]>([
    [
      'no Authorization',
      () => post('/v1/chat/completions', CHAT, {}),
      401,
      err(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      ),
    ],
    [
      'a wrong key (masked as OpenAI masks it)',
      () => post('/v1/chat/completions', CHAT, { authorization: 'Bearer sk-wrong-key-abcdefghij' }),
      401,
      err('Incorrect API key provided: sk-wrong***********ghij. You can find your API key at https://platform.openai.com/account/api-keys.', null, 'invalid_api_key'),
    ],
    ['the key in api-key (Azure style)', () => post('/v1/chat/completions', CHAT, { 'api-key': KEY }), 401, expect.objectContaining({ error: expect.objectContaining({ message: expect.stringContaining("You didn't provide an API key") }) })],
    ['an unknown parameter', () => post('/v1/chat/completions', { ...CHAT, tags: ['a'] }), 400, err('Unrecognized request argument supplied: tags')],
    ['two unknown parameters', () => post('/v1/chat/completions', { ...CHAT, tags: ['a'], disable_fallbacks: true }), 400, err('Unrecognized request arguments supplied: tags, disable_fallbacks')],
    ['no model', () => post('/v1/chat/completions', { messages: CHAT.messages }), 400, err('you must provide a model parameter')],
    ['no messages', () => post('/v1/chat/completions', { model: 'gpt-4o' }), 400, err("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter')],
    ['messages as a string', () => post('/v1/chat/completions', { model: 'gpt-4o', messages: 'hi' }), 400, err("Invalid type for 'messages': expected an array, but got a string instead.", 'messages', 'invalid_type')],
    ['temperature as a string', () => post('/v1/chat/completions', { ...CHAT, temperature: 'hot' }), 400, err("Invalid type for 'temperature': expected a decimal, but got a string instead.", 'temperature', 'invalid_type')],
    ['stream as a string', () => post('/v1/chat/completions', { ...CHAT, stream: 'yes' }), 400, err("Invalid type for 'stream': expected a boolean, but got a string instead.", 'stream', 'invalid_type')],
    [
      'no message',
      () => post('/v1/chat/completions', { model: 'gpt-4o', messages: [] }),
      400,
      err("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages', 'empty_array'),
    ],
    ['a message without role', () => post('/v1/chat/completions', { model: 'gpt-4o', messages: [{ content: 'hi' }] }), 400, err("Missing required parameter: 'messages[0].role'.", 'messages[0].role', 'missing_required_parameter')],
    ['stream_options without stream', () => post('/v1/chat/completions', { ...CHAT, stream_options: { include_usage: true } }), 400, err("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options')],
    [
      'a body that is not JSON',
      () => post('/v1/chat/completions', '{"model":'),
      400,
      err(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
      ),
    ],
    ['a path it does not serve', () => post('/v1/chat/completion', CHAT), 404, err('Invalid URL (POST /v1/chat/completion)')],
    ['GET on chat completions', () => fetch(`${base(mock)}/v1/chat/completions`), 404, err('Invalid URL (GET /v1/chat/completions)')],
    ['an unknown embeddings parameter', () => post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', route_preference: 'cheap' }), 400, err('Unrecognized request argument supplied: route_preference')],
    ['embeddings without input', () => post('/v1/embeddings', { model: 'text-embedding-3-small' }), 400, err("Missing required parameter: 'input'.", 'input', 'missing_required_parameter')],
  ])('%s', async (_, send, status, body) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(body);
  });

  it('records what it rejected: path, headers, model and body', async () => {
    mock.reset();
    await post('/v1/chat/completions', { ...CHAT, tags: ['team-a'] });
    const [seen] = mock.stats().last;
    expect(seen).toMatchObject({ path: '/v1/chat/completions', model: 'gpt-4o', authorization: `Bearer ${KEY}`, body: { ...CHAT, tags: ['team-a'] } });
    expect(mock.stats()).toMatchObject({ format: 'openai', strict: true, requests: 1, statuses: { 400: 1 }, usage: { promptTokens: 0 } });
  });

  it('is lenient unless asked: the default OpenAI instance serves router-only fields and no key', async () => {
    const res = await post('/v1/chat/completions', { ...CHAT, tags: ['a'], metadata: { tags: ['b'] } }, {}, lenient);
    expect(res.status).toBe(200);
    expect(lenient.stats()).toMatchObject({ strict: false });
  });
});

describe('strict OpenAI mock: valid requests through the official SDK', () => {
  const client = () => new OpenAI({ apiKey: KEY, baseURL: `${base(mock)}/v1`, maxRetries: 0 });

  it('JSON with an image part: accepted, usage as reported', async () => {
    mock.reset();
    const completion = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You describe pictures.' },
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } }] },
      ],
      max_completion_tokens: 50,
      temperature: 0.2,
      user: 'u-1',
    });
    expect(completion.choices[0]!.message.content).toBe('Hello wörld, this');
    expect(completion.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4 });
    expect(mock.stats()).toMatchObject({ statuses: { 200: 1 }, usage: { promptTokens: 9, completionTokens: 4 } });
  });

  it('a stream with include_usage: chunks, then the usage chunk', async () => {
    const stream = await client().chat.completions.create({ ...CHAT, messages: [{ role: 'user', content: 'abcdefgh' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello wörld, this');
    expect(usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  });

  it('tools: the mock calls the tool, and takes the result back', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'auto', parallel_tool_calls: false });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{}' } });
    const second = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }],
      tools,
    });
    expect(second.choices[0]!.finish_reason).toBe('stop');
  });

  it('embeddings', async () => {
    const res = await client().embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'], encoding_format: 'float' });
    expect(res.data).toHaveLength(2);
  });

  it('its errors parse as OpenAI errors in the SDK', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-nope', baseURL: `${base(mock)}/v1`, maxRetries: 0 });
    const error = await wrong.chat.completions.create(CHAT as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
  });
});

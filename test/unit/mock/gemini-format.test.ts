/**
 * The Gemini mock (strict by default): Google's rejections and error bodies, JSON and SSE answers
 * with deterministic usage, function calls; and the router's translation end to end against it:
 * OpenAI request → Gemini body the mock accepts → Gemini answer → OpenAI answer the SDK reads.
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { Stream } from 'openai/streaming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';
import { GEMINI_BASE_PATH, chatPathOf } from '../../../src/providers/gemini/endpoint.js';
import { observeResponse } from '../../../src/providers/gemini/observe.js';
import { fromOpenAiRequest } from '../../../src/providers/gemini/request.js';
import { feed } from '../../support/streams.js';

const KEY = 'AIza-test';
const MODEL = 'gemini-2.5-flash';
let mock: MockInstance;
const HEADERS = { 'x-goog-api-key': KEY };
const REQUEST = { contents: [{ role: 'user', parts: [{ text: 'abcdefgh' }] }] };
const GENERATE = `/v1beta/models/${MODEL}:generateContent`;
const post = (path: string, body: unknown, headers: Record<string, string> = HEADERS) =>
  fetch(`http://127.0.0.1:${mock.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  mock = await startMockInstance({ name: 'gem', port: 0, format: 'gemini', api_key: KEY, behaviour: { chunks: 3 } });
});
afterAll(async () => {
  await mock.close();
});

describe('Gemini mock: rejections', () => {
  it.each<[string, () => Promise<Response>, number, string, string]>([
    ['no key', () => post(GENERATE, REQUEST, {}), 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."],
    ['the key as a Bearer token', () => post(GENERATE, REQUEST, { authorization: `Bearer ${KEY}` }), 401, 'UNAUTHENTICATED', expect.stringContaining('Expected OAuth 2 access token')],
    ['a wrong key', () => post(GENERATE, REQUEST, { 'x-goog-api-key': 'AIza-other' }), 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.'],
    ['an unknown field', () => post(GENERATE, { ...REQUEST, tags: ['a'] }), 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "tags": Cannot find field.'],
    ['an OpenAI field inside generationConfig', () => post(GENERATE, { ...REQUEST, generationConfig: { max_tokens: 5 } }), 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "max_tokens" at \'generation_config\': Cannot find field.'],
    ['a value of the wrong type', () => post(GENERATE, { ...REQUEST, generationConfig: { temperature: 'hot' } }), 400, 'INVALID_ARGUMENT', "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""],
    ['an unknown calling mode', () => post(GENERATE, { ...REQUEST, toolConfig: { functionCallingConfig: { mode: 'SOMETIMES' } } }), 400, 'INVALID_ARGUMENT', expect.stringContaining("Invalid value at 'tool_config.function_calling_config.mode'")],
    ['no contents', () => post(GENERATE, {}), 400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified\n'],
    ['an OpenAI role', () => post(GENERATE, { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }), 400, 'INVALID_ARGUMENT', 'Please use a valid role: user, model.'],
    ['a turn without parts', () => post(GENERATE, { contents: [{ role: 'user', parts: [] }] }), 400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n'],
    ['a part without data', () => post(GENERATE, { contents: [{ role: 'user', parts: [{ thought: true }] }] }), 400, 'INVALID_ARGUMENT', expect.stringContaining("required oneof field 'data'")],
    ['a function response without a name', () => post(GENERATE, { contents: [{ role: 'user', parts: [{ functionResponse: { response: {} } }] }] }), 400, 'INVALID_ARGUMENT', expect.stringContaining('function_response.name: Name cannot be empty.')],
    ['OpenAI’s path', () => post('/v1/chat/completions', REQUEST), 404, 'NOT_FOUND', expect.stringContaining('was not found')],
  ])('%s', async (_, send, status, name, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: { code: status, status: name, message } });
  });

  it('snake_case field names parse as their camelCase', async () => {
    expect((await post(GENERATE, { contents: REQUEST.contents, generation_config: { max_output_tokens: 5 } })).status).toBe(200);
  });

  it('answers a scripted 503 as UNAVAILABLE and its per-minute limit as RESOURCE_EXHAUSTED', async () => {
    mock.enqueue([{ status: 503 }]);
    const res = await post(GENERATE, REQUEST);
    expect([res.status, await res.json()]).toEqual([503, { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }]);
  });
});

describe('Gemini mock: answers', () => {
  it('JSON: text, STOP, deterministic usage; the model from the path', async () => {
    mock.reset();
    const res = await post(GENERATE, { ...REQUEST, systemInstruction: { parts: [{ text: 'abcd' }] } });
    expect(await res.json()).toEqual({
      candidates: [{ content: { parts: [{ text: 'Hello wörld,' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 3, totalTokenCount: 6, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 3 }] },
      modelVersion: MODEL,
      responseId: expect.stringMatching(/^mock-gem-\d+$/),
    });
    expect(mock.stats()).toMatchObject({ format: 'gemini', strict: true, requests: 1, usage: { promptTokens: 3, completionTokens: 3 } });
    expect(mock.stats().last[0]).toMatchObject({ model: MODEL, headers: { 'x-goog-api-key': KEY } });
  });

  it('streamGenerateContent without alt=sse: one JSON array of the same responses', async () => {
    const res = await post(`/v1beta/models/${MODEL}:streamGenerateContent`, REQUEST);
    const body = (await res.json()) as Array<{ candidates: Array<{ finishReason?: string }> }>;
    expect(body.map((r) => r.candidates[0]!.finishReason ?? null)).toEqual([null, null, null, 'STOP']);
  });

  it('countTokens', async () => {
    expect(await (await post(`/v1beta/models/${MODEL}:countTokens`, REQUEST)).json()).toEqual({ totalTokens: 2 });
  });
});

describe('translation against the mock', () => {
  const TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } } }];
  const call = async (body: Record<string, unknown>) => {
    const stream = body.stream === true;
    const res = await post(`${GEMINI_BASE_PATH}${chatPathOf(MODEL, stream)}`, fromOpenAiRequest(body).toString('utf8'));
    expect(res.status).toBe(200);
    const observer = observeResponse(res.headers.get('content-type')!, !stream, 1)!;
    return { bytes: feed(observer, [Buffer.from(await res.arrayBuffer())]), report: observer.report() };
  };

  it('JSON with tools, then the tool result: a tool call, then text; usage billed equals what the mock reported', async () => {
    mock.reset();
    const messages: unknown[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await call({ model: 'g', messages, tools: TOOLS, tags: ['t'] });
    const completion = JSON.parse(first.bytes.toString('utf8')) as { choices: Array<{ message: { tool_calls: Array<{ id: string }> }; finish_reason: string }> };
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    const toolCall = completion.choices[0]!.message.tool_calls[0]!;
    messages.push(completion.choices[0]!.message, { role: 'tool', tool_call_id: toolCall.id, content: '21°C' });
    const second = JSON.parse((await call({ model: 'g', messages, tools: TOOLS })).bytes.toString('utf8')) as { choices: Array<{ finish_reason: string }> };
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(first.report.usage).toMatchObject({ promptTokens: 5, completionTokens: 4 });
  });

  it('streaming with include_usage: the SDK reads the text and the usage the mock reported', async () => {
    mock.reset();
    const { bytes, report } = await call({ model: 'g', messages: [{ role: 'user', content: 'abcdefgh' }], stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of Stream.fromSSEResponse<ChatCompletionChunk>(new Response(bytes), new AbortController())) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello wörld,');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3 });
    expect(report).toMatchObject({ complete: true, usage: { promptTokens: mock.stats().usage.promptTokens, completionTokens: mock.stats().usage.completionTokens } });
  });
});

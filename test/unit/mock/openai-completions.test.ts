/**
 * The strict OpenAI and Azure mocks serve the legacy `/v1/completions` as the official SDK expects
 * it, and reject what OpenAI's `CreateCompletionRequest` rejects: unknown parameters, a missing
 * prompt or model, wrong types, integers out of range.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';

const KEY = 'sk-test-0123456789abcdef';
let mock: MockInstance;
let azure: MockInstance;
const base = (m: MockInstance) => `http://127.0.0.1:${m.port}`;
const REQUEST = { model: 'gpt-3.5-turbo-instruct', prompt: 'abcdefgh' };

const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }, m = mock) =>
  fetch(`${base(m)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  mock = await startMockInstance({ name: 'strict', port: 0, format: 'openai', strict: true, api_key: KEY, behaviour: { chunks: 4 } });
  azure = await startMockInstance({ name: 'azure', port: 0, format: 'azure-openai', api_key: KEY, deployments: ['instruct'], behaviour: { chunks: 4 } });
});
afterAll(async () => {
  await mock.close();
  await azure.close();
});

const err = (message: string, param: string | null = null, code: string | null = null) => ({ error: { message, type: 'invalid_request_error', param, code } });

describe('strict OpenAI mock: /v1/completions rejections', () => {
  it.each<[string, unknown, unknown]>([
    ['a router field', { ...REQUEST, tags: ['a'] }, err('Unrecognized request argument supplied: tags')],
    ["a chat parameter completions lack", { ...REQUEST, messages: [] }, err('Unrecognized request argument supplied: messages')],
    ['no model', { prompt: 'a' }, err('you must provide a model parameter')],
    ['no prompt', { model: REQUEST.model }, err("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter')],
    ['prompt as a number', { ...REQUEST, prompt: 5 }, err("Invalid type for 'prompt': expected a string, but got an integer instead.", 'prompt', 'invalid_type')],
    ['echo as a string', { ...REQUEST, echo: 'yes' }, err("Invalid type for 'echo': expected a boolean, but got a string instead.", 'echo', 'invalid_type')],
    ['logprobs above 5', { ...REQUEST, logprobs: 6 }, err("Invalid 'logprobs': integer above maximum value. Expected a value <= 5, but got 6 instead.", 'logprobs', 'integer_above_max_value')],
    ['n of 0', { ...REQUEST, n: 0 }, err("Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.", 'n', 'integer_below_min_value')],
    ['best_of below n', { ...REQUEST, n: 2, best_of: 1 }, err("'best_of' must be greater than or equal to 'n'.", 'best_of')],
    ['best_of streamed', { ...REQUEST, best_of: 2, stream: true }, err("Cannot stream results with 'best_of' greater than 1.", 'best_of')],
    ['stream_options without stream', { ...REQUEST, stream_options: { include_usage: true } }, err("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options')],
  ])('%s', async (_, body, expected) => {
    const res = await post('/v1/completions', body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(expected);
  });

  it('every parameter of the SDK accepted at once', async () => {
    const res = await post('/v1/completions', {
      ...REQUEST,
      best_of: 2,
      echo: false,
      frequency_penalty: 0.1,
      logit_bias: { '50256': -100 },
      logprobs: 2,
      max_tokens: 20,
      n: 2,
      presence_penalty: 0,
      seed: 7,
      stop: ['\n'],
      stream: false,
      stream_options: null,
      suffix: '.',
      temperature: 0.5,
      top_p: 1,
      user: 'u-1',
    });
    expect(res.status).toBe(200);
  });
});

describe('strict OpenAI mock: completions through the official SDK', () => {
  const client = () => new OpenAI({ apiKey: KEY, baseURL: `${base(mock)}/v1`, maxRetries: 0 });

  it('JSON: a text_completion with its usage, n choices per prompt, each billed', async () => {
    mock.reset();
    const completion = await client().completions.create({ ...REQUEST, prompt: ['abcdefgh', 'ijkl'], n: 2 });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices.map((c) => [c.index, c.text, c.finish_reason])).toEqual([
      [0, 'Hello wörld, this', 'stop'],
      [1, 'Hello wörld, this', 'stop'],
      [2, 'Hello wörld, this', 'stop'],
      [3, 'Hello wörld, this', 'stop'],
    ]);
    expect(completion.usage).toEqual({ prompt_tokens: 3, completion_tokens: 16, total_tokens: 19 });
    expect(mock.stats()).toMatchObject({ requests: 1, usage: { promptTokens: 3, completionTokens: 16 } });
  });

  it('max_tokens cuts each choice (finish_reason length); echo puts the prompt first; token ids count one each', async () => {
    const cut = await client().completions.create({ ...REQUEST, max_tokens: 2, echo: true });
    expect(cut.choices[0]).toMatchObject({ text: 'abcdefghHello wörld', finish_reason: 'length' });
    const ids = await client().completions.create({ model: REQUEST.model, prompt: [[1, 2, 3], [4]] });
    expect(ids.usage?.prompt_tokens).toBe(4);
  });

  it('a stream with include_usage: text chunks, the finish, then the usage chunk with no choices', async () => {
    const stream = await client().completions.create({ ...REQUEST, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      for (const c of chunk.choices) {
        text += c.text;
        if (c.finish_reason !== null) finishes.push(c.finish_reason);
      }
      if (chunk.usage) {
        expect(chunk.choices).toEqual([]);
        usage = chunk.usage;
      }
    }
    expect(text).toBe('Hello wörld, this');
    expect(finishes).toEqual(['stop']);
    expect(usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
  });

  it('a stream without include_usage carries no usage, and the mock counts none reported', async () => {
    mock.reset();
    const stream = await client().completions.create({ ...REQUEST, stream: true });
    for await (const chunk of stream) expect(chunk.usage).toBeUndefined();
    expect(mock.stats().usage.completionTokens).toBe(0);
  });
});

describe('strict Azure mock: completions at the deployment path', () => {
  it('serves /openai/deployments/{name}/completions with api-key and api-version; model optional', async () => {
    const res = await post('/openai/deployments/instruct/completions?api-version=2024-10-21', { prompt: 'abcd' }, { 'api-key': KEY }, azure);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'text_completion', usage: { prompt_tokens: 1, completion_tokens: 4 } });
  });

  it('refuses an unknown parameter there as OpenAI does', async () => {
    const res = await post('/openai/deployments/instruct/completions?api-version=2024-10-21', { prompt: 'abcd', tags: ['a'] }, { 'api-key': KEY }, azure);
    expect(res.status).toBe(400);
  });
});

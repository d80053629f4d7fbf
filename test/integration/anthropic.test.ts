/**
 * An Anthropic deployment behind the gateway, reached by the official `openai` SDK through real
 * Envoy: each attempt translates the OpenAI request into Anthropic's Messages API (the strict mock
 * refuses anything else), and the answer — JSON, a stream, tool calls, an error — comes back in
 * OpenAI's format, billed as the mock reported. Fallbacks cross the formats both ways.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const CLAUDE = { name: 'claude', key: 'sk-ant-secret', providerModel: 'claude-sonnet-4-5' };
const GPT = { name: 'gpt', key: 'sk-openai-secret' };


beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: CLAUDE.name, group: 'claude', providerModel: CLAUDE.providerModel, apiKeyEnv: 'KEY_CLAUDE', extra: { provider: 'anthropic', capabilities: ['chat', 'streaming', 'tools', 'vision'] } },
      { name: GPT.name, group: 'gpt', apiKeyEnv: 'KEY_GPT', mock: { strict: true }, extra: { capabilities: ['chat', 'streaming', 'tools', 'vision'] } },
    ],
    groups: { gpt: { fallbacks: ['claude'] }, claude: { fallbacks: ['gpt'] } },
    routerEnv: { KEY_CLAUDE: CLAUDE.key, KEY_GPT: GPT.key },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const client = () => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });


describe('an Anthropic deployment for OpenAI clients', () => {
  it("JSON: Anthropic's path, key, version and body upstream; OpenAI's completion back; billed as the mock reported", async () => {
    stack.resetMocks();
    const res = await client().chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello' },
      ],
      max_tokens: 200,
      stop: ['END'],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const seen = stack.lastSeen(CLAUDE.name);
    expect(seen.path).toBe('/v1/messages');
    expect(seen.headers['x-api-key']).toBe(CLAUDE.key);
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen.authorization).toBeNull();
    expect(seen.body).toMatchObject({ model: CLAUDE.providerModel, system: [{ type: 'text', text: 'Be brief.' }], max_tokens: 200, stop_sequences: ['END'], messages: [{ role: 'user' }] });
    const reported = stack.mock(CLAUDE.name).stats().usage;
    expect(res.usage).toMatchObject({ prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens });
    const record = await stack.lastRecord();
    expect(record).toMatchObject({ deployment: CLAUDE.name, provider: 'anthropic', status: 200, complete: true, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
  });

  it('streams with include_usage: OpenAI chunks, one usage chunk, billed as reported', async () => {
    stack.resetMocks();
    const stream = await client().chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } });
    const { text, usage } = await readStream(stream);
    expect(text.length).toBeGreaterThan(0);
    const reported = stack.mock(CLAUDE.name).stats().usage;
    expect(usage).toMatchObject({ prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens });
    expect(await stack.lastRecord()).toMatchObject({ deployment: CLAUDE.name, stream: true, complete: true, completionTokens: reported.completionTokens });
  });

  it('a tool call and its result round trip, and an image part goes as an image block', async () => {
    stack.resetMocks();
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client().chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'weather in Paris?' }], tools });
    const call = first.choices[0]!.message.tool_calls?.[0];
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' ? call.function.name : null).toBe('get_weather');
    expect(() => JSON.parse(call!.type === 'function' ? call!.function.arguments : '')).not.toThrow();
    const second = await client().chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        first.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: 'tool', tool_call_id: call!.id, content: '18°C' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'and this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' } },
          ],
        },
      ],
      tools,
    });
    expect(second.choices[0]!.message).toBeTruthy();
    const body = stack.lastSeen(CLAUDE.name).body as { messages: Array<{ role: string; content: Array<{ type: string }> }> };
    const types = body.messages.flatMap((m) => m.content.map((c) => c.type));
    expect(types).toEqual(expect.arrayContaining(['tool_use', 'tool_result', 'image']));
    expect(stack.mock(CLAUDE.name).stats().statuses).toEqual({ '200': 2 });
  });

  it('what Anthropic cannot give (n > 1) is refused before it goes anywhere, in OpenAI format', async () => {
    stack.resetMocks();
    const err = await client()
      .chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], n: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('n');
    expect(stack.mockRequests()).toBe(0);
  });
});

describe('fallbacks across formats', () => {
  it('OpenAI (503) → Anthropic: the hop gets a translated body and its own credential; billed to Anthropic', async () => {
    stack.resetMocks();
    stack.mock(GPT.name).setBehaviour({ status: 503 });
    try {
      const res = await client().chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hello' }] });
      expect(res.choices[0]!.message.content).toBeTruthy();
    } finally {
      stack.mock(GPT.name).setBehaviour({ status: 200 });
    }
    expect(stack.mock(GPT.name).stats().statuses).toEqual({ '503': 1 });
    const seen = stack.lastSeen(CLAUDE.name);
    expect(seen.headers['x-api-key']).toBe(CLAUDE.key);
    expect(seen.authorization).toBeNull();
    expect(seen.body).toMatchObject({ model: CLAUDE.providerModel, max_tokens: expect.any(Number) });
    expect(await stack.lastRecord()).toMatchObject({ deployment: CLAUDE.name, provider: 'anthropic', status: 200 });
  });

  it('Anthropic (529 overloaded) → OpenAI: the hop gets the OpenAI body and a bearer token, none of the Anthropic headers', async () => {
    stack.resetMocks();
    stack.mock(CLAUDE.name).setBehaviour({ status: 529 });
    try {
      const stream = await client().chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hello' }], stream: true });
      expect((await readStream(stream)).text.length).toBeGreaterThan(0);
    } finally {
      stack.mock(CLAUDE.name).setBehaviour({ status: 200 });
    }
    expect(stack.mock(CLAUDE.name).stats().statuses).toEqual({ '529': 1 });
    const seen = stack.lastSeen(GPT.name);
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.authorization).toBe(`Bearer ${GPT.key}`);
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['anthropic-version']).toBeUndefined();
    expect(seen.body).toMatchObject({ model: 'gpt-provider', stream: true, stream_options: { include_usage: true } });
    expect(await stack.lastRecord()).toMatchObject({ deployment: GPT.name, provider: 'openai', complete: true });
  });
});

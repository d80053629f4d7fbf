/**
 * A Gemini deployment behind the gateway, reached by the official `openai` SDK through real Envoy:
 * the model and the streaming method in the path, the key in x-goog-api-key, the body translated
 * for each attempt (the strict mock refuses anything else), the answer back in OpenAI's format and
 * billed as the mock reported.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const GEMINI = { name: 'gemini', key: 'goog-secret', providerModel: 'gemini-2.5-flash' };
const GPT = { name: 'gpt', key: 'sk-openai-secret' };

const client = () => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: GEMINI.name, group: 'gemini', providerModel: GEMINI.providerModel, apiKeyEnv: 'KEY_GEMINI', extra: { provider: 'gemini', capabilities: ['chat', 'streaming', 'tools', 'vision'] } },
      { name: GPT.name, group: 'gpt', apiKeyEnv: 'KEY_GPT', mock: { strict: true } },
    ],
    groups: { gpt: { fallbacks: ['gemini'] } },
    routerEnv: { KEY_GEMINI: GEMINI.key, KEY_GPT: GPT.key },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a Gemini deployment for OpenAI clients', () => {
  it("JSON: the model's generateContent path and the key in x-goog-api-key; billed as reported", async () => {
    stack.resetMocks();
    const res = await client().chat.completions.create({ model: 'gemini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }], max_tokens: 100 });
    expect(res.choices[0]!.message.content).toBeTruthy();
    const seen = stack.lastSeen(GEMINI.name);
    expect(seen.path).toBe(`/v1beta/models/${GEMINI.providerModel}:generateContent`);
    expect(seen.headers['x-goog-api-key']).toBe(GEMINI.key);
    expect(seen.authorization).toBeNull();
    expect(seen.body).toMatchObject({ systemInstruction: expect.any(Object), contents: [{ role: 'user' }], generationConfig: { maxOutputTokens: 100 } });
    const reported = stack.mock(GEMINI.name).stats().usage;
    expect(await stack.lastRecord()).toMatchObject({ deployment: GEMINI.name, provider: 'gemini', complete: true, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
  });

  it('streams at streamGenerateContent?alt=sse, with the usage chunk the client asked for', async () => {
    stack.resetMocks();
    const stream = await client().chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } });
    const { text, usage } = await readStream(stream);
    expect(text.length).toBeGreaterThan(0);
    expect(stack.lastSeen(GEMINI.name).path).toBe(`/v1beta/models/${GEMINI.providerModel}:streamGenerateContent?alt=sse`);
    const reported = stack.mock(GEMINI.name).stats().usage;
    expect(usage).toMatchObject({ prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens });
    expect(await stack.lastRecord()).toMatchObject({ deployment: GEMINI.name, stream: true, complete: true });
  });

  it('a tool call round trips: the tool result names its function', async () => {
    stack.resetMocks();
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client().chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'weather?' }], tools });
    const call = first.choices[0]!.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.name : null).toBe('get_weather');
    await client().chat.completions.create({
      model: 'gemini',
      messages: [{ role: 'user', content: 'weather?' }, first.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam, { role: 'tool', tool_call_id: call!.id, content: '18°C' }],
      tools,
    });
    const body = stack.lastSeen(GEMINI.name).body as { contents: Array<{ parts: Array<Record<string, { name?: string }>> }> };
    expect(body.contents.flatMap((c) => c.parts).find((p) => p.functionResponse !== undefined)?.functionResponse?.name).toBe('get_weather');
    expect(stack.mock(GEMINI.name).stats().statuses).toEqual({ '200': 2 });
  });

  it("an image part goes as inlineData, and the router's own fields (tags) never reach Gemini's strict API", async () => {
    stack.resetMocks();
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const params = {
      model: 'gemini',
      tags: ['team-a'],
      metadata: { tags: 'x' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    };
    const res = await client().chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(res.choices[0]!.message.content).toBeTruthy();
    const body = stack.lastSeen(GEMINI.name).body as { contents: Array<{ parts: Array<Record<string, unknown>> }> };
    expect(body.contents[0]!.parts).toContainEqual({ inlineData: { mimeType: 'image/png', data: png } });
    expect(JSON.stringify(body)).not.toContain('team-a');
  });

  it('OpenAI (503) → Gemini, streaming: the hop is translated and called at its own streaming path', async () => {
    stack.resetMocks();
    stack.mock(GPT.name).setBehaviour({ status: 503 });
    try {
      const stream = await client().chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hello' }], stream: true });
      expect((await readStream(stream)).text.length).toBeGreaterThan(0);
    } finally {
      stack.mock(GPT.name).setBehaviour({ status: 200 });
    }
    const seen = stack.lastSeen(GEMINI.name);
    expect(seen.path).toBe(`/v1beta/models/${GEMINI.providerModel}:streamGenerateContent?alt=sse`);
    expect(seen.headers['x-goog-api-key']).toBe(GEMINI.key);
    expect(seen.authorization).toBeNull();
    expect(await stack.lastRecord()).toMatchObject({ deployment: GEMINI.name, provider: 'gemini', complete: true });
  });
});

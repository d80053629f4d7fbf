/**
 * Anthropic SDK clients through real Envoy at `POST /v1/messages`: routed by the same policies,
 * served by an Anthropic deployment with the client's own body (only the model id changes) and by
 * an OpenAI deployment with the request and the answer translated; errors as Anthropic writes them,
 * so the SDK raises its own error classes. Every mock is strict.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingFetch } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const CLAUDE = { name: 'claude', key: 'sk-ant-secret', providerModel: 'claude-sonnet-4-5' };
const GPT = { name: 'gpt', key: 'sk-openai-secret' };

const client = (fetch?: typeof globalThis.fetch) => new Anthropic({ baseURL: stack.url, apiKey: 'sk-client', maxRetries: 0, ...(fetch === undefined ? {} : { fetch }) });
/** What the SDK sent, as an Anthropic deployment should receive it: with its model id, without the router's fields. */
const asForwarded = (sent: string) => sent.replace('"model":"claude"', `"model":"${CLAUDE.providerModel}"`).replace(',"tags":["team-a"]', '');

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: CLAUDE.name, group: 'claude', providerModel: CLAUDE.providerModel, apiKeyEnv: 'KEY_CLAUDE', extra: { provider: 'anthropic', capabilities: ['chat', 'streaming', 'tools'] } },
      { name: GPT.name, group: 'gpt', apiKeyEnv: 'KEY_GPT', mock: { strict: true }, extra: { capabilities: ['chat', 'streaming', 'tools'] } },
    ],
    routerEnv: { KEY_CLAUDE: CLAUDE.key, KEY_GPT: GPT.key },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];

describe('served by an Anthropic deployment: the client body as it is', () => {
  it("JSON: the client's bytes reach Anthropic apart from the model id and the router's fields, with the deployment key; billed as reported", async () => {
    stack.resetMocks();
    const recording = recordingFetch();
    const params = { model: 'claude', max_tokens: 300, system: 'Be brief.', messages: [{ role: 'user' as const, content: 'hello' }], tags: ['team-a'], temperature: 0.2 };
    const message = await client(recording.fetch).messages.create(params as Anthropic.MessageCreateParamsNonStreaming);
    expect(message.type).toBe('message');
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const seen = stack.lastSeen(CLAUDE.name);
    expect(seen.text).toBe(asForwarded(recording.sent[0]!));
    expect(seen.text).not.toContain('tags');
    expect(seen.headers['x-api-key']).toBe(CLAUDE.key);
    const reported = stack.mock(CLAUDE.name).stats().usage;
    expect(await stack.lastRecord()).toMatchObject({ deployment: CLAUDE.name, status: 200, complete: true, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
  });

  it('streams as Anthropic streamed it, tool use included; the body as the client sent it', async () => {
    stack.resetMocks();
    const recording = recordingFetch();
    const stream = client(recording.fetch).messages.stream({ model: 'claude', max_tokens: 300, messages: [{ role: 'user', content: 'weather?' }], tools });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.some((b) => b.type === 'tool_use' && b.name === 'get_weather')).toBe(true);
    expect(stack.lastSeen(CLAUDE.name).text).toBe(asForwarded(recording.sent[0]!));
    expect(await stack.lastRecord()).toMatchObject({ deployment: CLAUDE.name, stream: true, complete: true });
  });
});

describe('served by an OpenAI deployment: translated both ways', () => {
  it('JSON: OpenAI gets a chat completion request; the client gets an Anthropic message', async () => {
    stack.resetMocks();
    const message = await client().messages.create({ model: 'gpt', max_tokens: 200, system: 'Be brief.', messages: [{ role: 'user', content: 'hello' }] });
    expect(message.type).toBe('message');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]!.type === 'text' && message.content[0]!.text.length).toBeGreaterThan(0);
    const seen = stack.lastSeen(GPT.name);
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.authorization).toBe(`Bearer ${GPT.key}`);
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.body).toMatchObject({ model: 'gpt-provider', max_tokens: 200, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user' }] });
    const reported = stack.mock(GPT.name).stats().usage;
    expect(message.usage.output_tokens).toBe(reported.completionTokens);
  });

  it('streams: the SDK assembles the message; a tool call round trips', async () => {
    stack.resetMocks();
    const first = await client().messages.stream({ model: 'gpt', max_tokens: 200, messages: [{ role: 'user', content: 'weather?' }], tools }).finalMessage();
    const call = first.content.find((b) => b.type === 'tool_use');
    expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    const second = await client().messages.create({
      model: 'gpt',
      max_tokens: 200,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call!.type === 'tool_use' ? call!.id : '', content: '18°C' }] },
      ],
      tools,
    });
    expect(second.type).toBe('message');
    expect((stack.lastSeen(GPT.name).body as { messages: Array<{ role: string }> }).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(await stack.lastRecord()).toMatchObject({ deployment: GPT.name, status: 200 });
  });
});

describe("errors in Anthropic's format", () => {
  it("the SDK raises its own errors: an unknown model (404), a request Anthropic refuses (400)", async () => {
    stack.resetMocks();
    const unknown = await client().messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    const refused = await client()
      .messages.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(stack.mockRequests()).toBe(0);
  });
});

/**
 * Cross-vendor fallback through real Envoy, every mock strict: OpenAI (503) → Anthropic (529
 * overloaded) → Bedrock. Each hop is translated for its provider, carries its own credential (a
 * SigV4 signature the Bedrock mock recomputes), and the request is billed to the provider that
 * answered.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const client = () => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'gpt', group: 'gpt', apiKeyEnv: 'KEY_GPT', mock: { strict: true }, behaviour: { status: 503 } },
      { name: 'claude', group: 'claude', providerModel: 'claude-sonnet-4-5', apiKeyEnv: 'KEY_CLAUDE', extra: { provider: 'anthropic' }, behaviour: { status: 529 } },
      {
        name: 'bedrock',
        group: 'bedrock',
        providerModel: BEDROCK_MODEL,
        // The mock's own key pair (src/mock/behaviour.ts), from the router's environment.
        extra: { provider: 'bedrock', capabilities: ['chat', 'streaming', 'tools', 'vision'], aws: { region: 'us-east-1', access_key_id: { env: 'AWS_KEY_ID' }, secret_access_key: { env: 'AWS_SECRET' } } },
      },
    ],
    groups: { gpt: { fallbacks: ['claude', 'bedrock'] }, claude: { fallbacks: ['bedrock'] } },
    routerEnv: { KEY_GPT: 'sk-openai', KEY_CLAUDE: 'sk-ant', AWS_KEY_ID: 'AKIAMOCKBEDROCK', AWS_SECRET: 'mock-bedrock-secret' },
    config: { provider_budgets: [{ provider: 'anthropic', usd: 100, window: 'day' }, { provider: 'bedrock', usd: 100, window: 'day' }] },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('OpenAI (503) → Anthropic (529) → Bedrock', () => {
  it('a Bedrock deployment answers the openai SDK, JSON and streamed, every request signed', async () => {
    stack.resetMocks();
    const res = await client().chat.completions.create({ model: 'bedrock', messages: [{ role: 'user', content: 'hello' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    const stream = await client().chat.completions.create({ model: 'bedrock', messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } });
    const { text, usage } = await readStream(stream);
    expect(text.length).toBeGreaterThan(0);
    expect(stack.mock('bedrock').stats().statuses).toEqual({ '200': 2 });
    const paths = stack.mock('bedrock').stats().last.map((r) => r.path);
    expect(paths).toEqual([`/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`]);
    expect(stack.mock('bedrock').stats().last[1]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAMOCKBEDROCK\//);
    const reported = stack.mock('bedrock').stats().usage;
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number) });
    const [streamed] = await stack.usageLog(1);
    expect(streamed).toMatchObject({ deployment: 'bedrock', provider: 'bedrock', complete: true });
    expect(reported.completionTokens).toBe(res.usage!.completion_tokens + usage!.completion_tokens);
  });

  it('Bedrock: a tool call round trips, an image part goes as an image block, the router\'s own fields never reach it', async () => {
    stack.resetMocks();
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client().chat.completions.create({ model: 'bedrock', messages: [{ role: 'user', content: 'weather?' }], tools, tags: ['team-a'] } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const call = first.choices[0]!.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.name : null).toBe('get_weather');
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    await client().chat.completions.create({
      model: 'bedrock',
      messages: [
        { role: 'user', content: 'weather?' },
        first.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: 'tool', tool_call_id: call!.id, content: '18°C' },
        { role: 'user', content: [{ type: 'text', text: 'and this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
      ],
      tools,
    });
    const body = stack.mock('bedrock').stats().last.at(-1)!.body as { messages: Array<{ content: Array<Record<string, unknown>> }> };
    const kinds = body.messages.flatMap((m) => m.content.flatMap((c) => Object.keys(c)));
    expect(kinds).toEqual(expect.arrayContaining(['toolUse', 'toolResult', 'image']));
    expect(stack.mock('bedrock').stats().statuses).toEqual({ '200': 2 });
    expect(JSON.stringify(stack.mock('bedrock').stats().last.map((r) => r.body))).not.toContain('team-a');
  });

  it('succeeds for every one of 500 requests; each mock saw its own format and credential; Bedrock is billed', async () => {
    stack.resetMocks();
    let next = 0;
    const failures: number[] = [];
    const worker = async (): Promise<void> => {
      while (next++ < 500) {
        try {
          await client().chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hello' }] });
        } catch (err) {
          failures.push((err as { status?: number }).status ?? 0);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
    // The failing deployments were tried (then cooled down); every answer came from Bedrock.
    expect(stack.mock('gpt').stats().last.every((r) => r.path === '/v1/chat/completions' && r.authorization === 'Bearer sk-openai')).toBe(true);
    expect(stack.mock('claude').stats().last.every((r) => r.path === '/v1/messages' && r.headers['x-api-key'] === 'sk-ant' && r.authorization === null && r.model === 'claude-sonnet-4-5')).toBe(true);
    expect(stack.mock('gpt').stats().last.every((r) => r.model === 'gpt-provider')).toBe(true);
    expect(stack.mock('claude').stats().statuses['529']).toBeGreaterThan(0);
    expect(stack.mock('bedrock').stats().statuses).toEqual({ '200': 500 });
    const records = await stack.usageLog(500);
    expect(records.every((r) => r.provider === 'bedrock' && r.status === 200)).toBe(true);
    const billed = records.reduce((n, r) => n + r.costNanos, 0);
    expect(billed).toBeGreaterThan(0);
    // The cost lands on Bedrock's budget, none on Anthropic's (its reservations given back), once settled.
    type Report = { data: Array<{ owner: string; spent_usd: number }> };
    const spent = async () => Object.fromEntries(((await (await stack.adminFetch('/budgets')).json()) as Report).data.map((b) => [b.owner, b.spent_usd]));
    // Every Bedrock answer of this file, the first test's included.
    const bedrockUsd = (await stack.usageLog()).filter((r) => r.provider === 'bedrock').reduce((n, r) => n + r.costNanos, 0) / 1e9;
    let budgets = await spent();
    for (let i = 0; i < 50 && (budgets['provider bedrock'] !== bedrockUsd || budgets['provider anthropic'] !== 0); i++) {
      await new Promise((r) => setTimeout(r, 50));
      budgets = await spent();
    }
    expect(budgets).toEqual({ 'provider anthropic': 0, 'provider bedrock': bedrockUsd });
  }, 120_000);
});

/**
 * Two client endpoints through real Envoy, with strict mocks and the official SDKs as clients:
 *
 *   POST /v1/messages/count_tokens  (`client.messages.countTokens` in @anthropic-ai/sdk) — passed to
 *                                   an Anthropic deployment of the group (its count is exact), or
 *                                   counted by the router (o200k, an estimate) when the group has
 *                                   none; never billed, never counted against load, limits or budgets
 *   POST /v1/completions            (`client.completions.create` in openai) — routed to deployments
 *                                   with the `completions` capability, billed from the provider's usage
 */
import Anthropic from '@anthropic-ai/sdk';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import type { UsageRecord } from '../../src/state/store.js';
import { TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from '../../src/routing/tokens.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const CLAUDE = { name: 'claude', key: 'sk-ant-secret', providerModel: 'claude-sonnet-4-5' };
const GPT = { name: 'gpt', key: 'sk-openai-secret' };
const INSTRUCT = { name: 'instruct', key: 'sk-instruct-secret', providerModel: 'gpt-3.5-turbo-instruct' };
const AZURE = { name: 'azure-instruct', key: 'azure-secret', providerModel: 'my-instruct' };
const KEYS = { all: 'sk-client-all-0001', gptOnly: 'sk-client-gpt-0002', limited: 'sk-client-limited-0003' };

const anthropic = (key = KEYS.all) => new Anthropic({ baseURL: stack.url, apiKey: key, maxRetries: 0 });
const openai = (key = KEYS.all) => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });

/** The usage records written after `before` records, once at least `count` are there (records land just after the response). */
async function recordsAfter(before: number, count: number): Promise<UsageRecord[]> {
  for (let tries = 0; tries < 100; tries++) {
    const log = await stack.usageLog();
    if (log.length >= before + count) return log.slice(before);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${count} new usage records`);
}

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: CLAUDE.name, group: 'claude', providerModel: CLAUDE.providerModel, apiKeyEnv: 'KEY_CLAUDE', extra: { provider: 'anthropic' } },
      { name: GPT.name, group: 'gpt', apiKeyEnv: 'KEY_GPT', mock: { strict: true } },
      { name: INSTRUCT.name, group: 'instruct', providerModel: INSTRUCT.providerModel, apiKeyEnv: 'KEY_INSTRUCT', mock: { strict: true }, extra: { capabilities: ['completions', 'streaming'] } },
      { name: AZURE.name, group: 'instruct-azure', providerModel: AZURE.providerModel, apiKeyEnv: 'KEY_AZURE', mock: { strict: true }, extra: { provider: 'azure-openai', capabilities: ['completions'] } },
    ],
    routerEnv: { KEY_CLAUDE: CLAUDE.key, KEY_GPT: GPT.key, KEY_INSTRUCT: INSTRUCT.key, KEY_AZURE: AZURE.key },
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'all', key_sha256: hashKey(KEYS.all) },
        { name: 'gpt-only', key_sha256: hashKey(KEYS.gptOnly), models: ['gpt'] },
        { name: 'limited', key_sha256: hashKey(KEYS.limited), rpm_limit: 1, tpm_limit: 1000, budgets: [{ usd: 1, window: 'day' }] },
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const MESSAGES: Anthropic.MessageParam[] = [{ role: 'user', content: 'Hello there, how many tokens is this?' }];

describe('count_tokens', () => {
  it("an Anthropic deployment counts: the client's body with the deployment's model id and key, its answer as it gave it", async () => {
    stack.resetMocks();
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    const { data, response } = await anthropic().messages.countTokens({ model: 'claude', system: 'Be brief.', messages: MESSAGES, tools }).withResponse();
    const seen = stack.lastSeen(CLAUDE.name);
    expect(seen.path).toBe('/v1/messages/count_tokens');
    expect(seen.body).toEqual({ model: CLAUDE.providerModel, system: 'Be brief.', messages: MESSAGES, tools });
    expect(seen.headers['x-api-key']).toBe(CLAUDE.key);
    // The strict mock counts ⌈characters / 4⌉ of the system prompt and the text.
    expect(data).toEqual({ input_tokens: Math.ceil(('Be brief.'.length + (MESSAGES[0]!.content as string).length) / 4) });
    expect(response.headers.get('x-llm-token-count')).toBeNull();
  });

  it('a group without one: the router counts with o200k and says the count is an estimate; no provider is called', async () => {
    stack.resetMocks();
    const { data, response } = await anthropic().messages.countTokens({ model: 'gpt', system: 'Be brief.', messages: MESSAGES }).withResponse();
    const text = MESSAGES[0]!.content as string;
    expect(data).toEqual({ input_tokens: countTokens('Be brief.') + countTokens(text) + 2 * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY });
    expect(response.headers.get('x-llm-token-count')).toBe('estimate');
    expect(stack.mockRequests()).toBe(0);
  });

  it("a request Anthropic refuses, a model the key may not use, an unknown model: the SDK's own errors, nothing sent upstream", async () => {
    stack.resetMocks();
    const withMaxTokens = { model: 'claude', max_tokens: 10, messages: MESSAGES } as unknown as Anthropic.MessageCountTokensParams;
    const refused = await anthropic().messages.countTokens(withMaxTokens).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Extra inputs are not permitted' } });
    const notAllowed = await anthropic(KEYS.gptOnly).messages.countTokens({ model: 'claude', messages: MESSAGES }).catch((e: unknown) => e);
    expect(notAllowed).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const unknown = await anthropic().messages.countTokens({ model: 'no-such-model', messages: MESSAGES }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect(stack.mockRequests()).toBe(0);
  });

  it("spends nothing: no usage record, no load, and neither the key's rate limit nor its budget", async () => {
    const before = (await stack.usageLog()).length;
    // The key may make one request a minute: every count is answered, and the completion after them still gets through.
    for (const model of ['claude', 'gpt', 'claude']) expect((await anthropic(KEYS.limited).messages.countTokens({ model, messages: MESSAGES })).input_tokens).toBeGreaterThan(0);
    const load = (await (await stack.adminFetch('/load')).json()) as { data: Record<string, { inFlight: number; requestsInWindow: number; tokensInWindow: number }> };
    expect(load.data[CLAUDE.name]).toMatchObject({ inFlight: 0, requestsInWindow: 0, tokensInWindow: 0 });
    const budgets = (await (await stack.adminFetch('/budgets')).json()) as { data: Array<{ owner: string; spent_usd: number }> };
    expect(budgets.data.filter((b) => b.owner.includes('limited')).map((b) => b.spent_usd)).toEqual([0]);
    await openai(KEYS.limited).completions.create({ model: 'instruct', prompt: 'one' });
    const limited = await openai(KEYS.limited).completions.create({ model: 'instruct', prompt: 'two' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    const records = await recordsAfter(before, 1);
    expect(records.map((r) => [r.keyId, r.deployment])).toEqual([['limited', INSTRUCT.name]]);
  });
});

describe('/v1/completions', () => {
  it('JSON: routed to the deployment with the capability, at its path with its model id and key, billed as the provider reported', async () => {
    stack.resetMocks();
    const before = (await stack.usageLog()).length;
    const params = { model: 'instruct', prompt: ['Say this is a test', 'and this'], max_tokens: 7, n: 2, echo: true, suffix: '.', tags: ['team-a'] };
    const completion = await openai().completions.create(params as OpenAI.CompletionCreateParamsNonStreaming);
    expect(completion.object).toBe('text_completion');
    expect(completion.choices).toHaveLength(4);
    const seen = stack.lastSeen(INSTRUCT.name);
    expect(seen.path).toBe('/v1/completions');
    expect(seen.authorization).toBe(`Bearer ${INSTRUCT.key}`);
    const { tags: _routerOnly, ...forwarded } = params;
    expect(seen.body).toEqual({ ...forwarded, model: INSTRUCT.providerModel });
    const reported = stack.mock(INSTRUCT.name).stats().usage;
    expect(completion.usage).toMatchObject({ prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens });
    const [record] = await recordsAfter(before, 1);
    expect(record).toMatchObject({ deployment: INSTRUCT.name, requestedModel: 'instruct', stream: false, status: 200, complete: true, usageEstimated: false, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
    expect(record!.costNanos).toBeGreaterThan(0);
  });

  it('streaming with include_usage: the client gets the usage chunk; billed from it', async () => {
    stack.resetMocks();
    const before = (await stack.usageLog()).length;
    const stream = await openai().completions.create({ model: 'instruct', prompt: 'Say this is a test', stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    const reported = stack.mock(INSTRUCT.name).stats().usage;
    expect(usage).toMatchObject({ prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens });
    const [record] = await recordsAfter(before, 1);
    expect(record).toMatchObject({ deployment: INSTRUCT.name, stream: true, complete: true, usageEstimated: false, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
  });

  it('streaming without include_usage: the router asks for it upstream, bills from it and hides it from the client', async () => {
    stack.resetMocks();
    const before = (await stack.usageLog()).length;
    const stream = await openai().completions.create({ model: 'instruct', prompt: 'Say this is a test', stream: true });
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.usage).toBeUndefined();
      expect(chunk.choices).toHaveLength(1);
    }
    expect(chunks).toBeGreaterThan(1);
    expect(stack.lastSeen(INSTRUCT.name).body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const reported = stack.mock(INSTRUCT.name).stats().usage;
    expect(reported.completionTokens).toBeGreaterThan(0);
    const [record] = await recordsAfter(before, 1);
    expect(record).toMatchObject({ stream: true, complete: true, usageEstimated: false, promptTokens: reported.promptTokens, completionTokens: reported.completionTokens });
  });

  it("Azure: the deployment's completions path with api-version and api-key", async () => {
    stack.resetMocks();
    const completion = await openai().completions.create({ model: 'instruct-azure', prompt: 'hi' });
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    const seen = stack.lastSeen(AZURE.name);
    expect(seen.path).toBe(`/openai/deployments/${AZURE.providerModel}/completions?api-version=2024-10-21`);
    expect(seen.headers['api-key']).toBe(AZURE.key);
  });

  it('a group none of whose deployments serves completions (Anthropic, or chat models only): a 400 that says why, nothing sent', async () => {
    stack.resetMocks();
    for (const [model, deployment] of [['claude', CLAUDE.name], ['gpt', GPT.name]] as const) {
      const refused = await openai().completions.create({ model, prompt: 'hi' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect(refused).toMatchObject({ status: 400, code: 'unsupported_request' });
      expect((refused as Error).message).toContain(`${deployment}: capability (lacks completions)`);
    }
    expect(stack.mockRequests()).toBe(0);
  });

  it("a body OpenAI would refuse is refused by the router, in OpenAI's words", async () => {
    const refused = await openai().completions.create({ model: 'instruct' } as unknown as OpenAI.CompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused).toMatchObject({ param: 'prompt', message: "400 Missing required parameter: 'prompt'." });
  });
});

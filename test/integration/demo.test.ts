/**
 * What `npm start` runs (`llm-router demo`): the bundled example files as they are, on their
 * documented ports, used the way the README shows — the official openai SDK with a base URL.
 */
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import { streamWithUsage } from '../support/clients.js';

let demo: Child;

beforeAll(async () => {
  // No admin token given: the demo makes one up.
  demo = spawnChild('demo', process.execPath, [join(PROJECT_ROOT, 'dist', 'main.js'), 'demo'], { env: { ...process.env, LLM_ROUTER_ADMIN_TOKEN: '' } });
  await waitUntil(async () => demo.output().includes('demo is up'), 45_000, () => `demo did not start:\n${demo.output()}`);
});

/** The admin token the banner prints (a new one each run). */
const printedAdminToken = (): string => /admin token (\S+)/.exec(demo.output())?.[1] ?? '';

afterAll(async () => {
  await demo?.stop(10_000);
});

it('serves a chat completion, a streamed completion with usage and an embedding to the openai SDK', async () => {
  const client = new OpenAI({ baseURL: 'http://127.0.0.1:10000/v1', apiKey: 'sk-llmr-demo', maxRetries: 0 });
  const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  expect(completion.choices[0]?.message.content).toMatch(/^Hello/);
  expect(completion.model).toMatch(/^gpt-4o-mini/);
  // The example caches gpt-4o-mini: the README's request again is answered from the cache.
  const again = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }).withResponse();
  expect(again.response.headers.get('x-llm-cache')).toBe('hit');
  expect(again.data).toEqual(completion);

  const { text, usage } = await streamWithUsage(client, 'gpt-4o');
  expect(text).toMatch(/^Hello wörld/);
  expect(usage?.completion_tokens).toBe(14);

  const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  expect(embedding.data[0]!.embedding.length).toBeGreaterThan(0);

  const log = (await (await fetch('http://127.0.0.1:9090/usage/log?limit=10', { headers: { authorization: `Bearer ${printedAdminToken()}` } })).json()) as {
    data: Array<{ deployment: string; keyId: string }>;
  };
  expect(log.data.map((r) => r.deployment)).toContain('openai-gpt-4o');
  expect(log.data.every((r) => r.keyId === 'demo')).toBe(true);
});

it('routes across vendors: Claude answers the openai SDK, and takes over when gpt-4o fails', async () => {
  const client = new OpenAI({ baseURL: 'http://127.0.0.1:10000/v1', apiKey: 'sk-llmr-demo', maxRetries: 0 });
  const claude = await client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'Say hello' }] });
  expect(claude.choices[0]?.message.content).toMatch(/^Hello/);
  expect(claude.model).toBe('claude-sonnet-4-5');
  // gpt-4o's only deployment fails (its mock told so, as an operator would script an outage): Envoy retries on Claude.
  const behave = (status: number) => fetch('http://127.0.0.1:18083/_mock/behaviour', { method: 'PUT', body: JSON.stringify({ status }) });
  await behave(503);
  try {
    const failover = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(failover.model).toBe('claude-sonnet-4-5');
  } finally {
    await behave(200);
  }
  const log = (await (await fetch('http://127.0.0.1:9090/usage/log?limit=1', { headers: { authorization: `Bearer ${printedAdminToken()}` } })).json()) as { data: Array<{ deployment: string; provider: string }> };
  expect(log.data[0]).toMatchObject({ deployment: 'anthropic-claude-sonnet', provider: 'anthropic' });
});

it("prints curl examples that work as printed: each carries a demo key", () => {
  const curls = demo.output().split('\n').filter((line) => line.includes('curl') && line.includes(':10000'));
  expect(curls.length).toBeGreaterThanOrEqual(3);
  for (const c of curls) expect(c).toContain("-H 'authorization: Bearer sk-llmr-demo'");
});

it('protects its admin API with the token it prints, shown in its admin curl example', async () => {
  const token = printedAdminToken();
  expect(token).toMatch(/^[0-9a-f]{32}$/);
  const curl = demo.output().split('\n').find((line) => line.includes('curl') && line.includes(':9090'));
  expect(curl).toContain(`-H 'authorization: Bearer ${token}'`);
  expect((await fetch('http://127.0.0.1:9090/usage/log')).status).toBe(401);
  expect((await fetch('http://127.0.0.1:9090/usage/log', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
});

it('accepts the documented demo keys within what each allows, and refuses others', async () => {
  const as = (apiKey: string) => new OpenAI({ baseURL: 'http://127.0.0.1:10000/v1', apiKey, maxRetries: 0 });
  const ask = (client: OpenAI, model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello' }] });
  await expect(ask(as('sk-llmr-free'), 'gpt-4o-mini')).resolves.toMatchObject({ object: 'chat.completion' });
  await expect(ask(as('sk-llmr-free'), 'gpt-4o')).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  await expect(ask(as('sk-llmr-premium'), 'gpt-4o')).resolves.toMatchObject({ object: 'chat.completion' });
  await expect(ask(as('sk-wrong'), 'gpt-4o-mini')).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
});

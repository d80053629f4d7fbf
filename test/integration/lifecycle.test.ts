/**
 * How requests end: a client that goes away still leaves a usage record; SIGTERM lets open streams
 * finish; with the router gone, Envoy fails closed (503, or 529 in Anthropic's format for its SDK's
 * clients) and nothing reaches a provider.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ deployments: [{ name: 'slow', group: 'gpt-4o-mini', behaviour: { chunks: 10, chunk_interval_ms: 100 } }] });
});

afterAll(async () => {
  await stack?.stop();
});

const streamRequest = (signal?: AbortSignal) =>
  postChat(stack.url, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'tell me a story' }] }, {}, signal);

it('records a usage entry, marked incomplete, when the client cancels mid-stream', async () => {
  const abort = new AbortController();
  const res = await streamRequest(abort.signal);
  const reader = res.body!.getReader();
  await reader.read();
  abort.abort();
  await reader.closed.catch(() => {});
  let log = await stack.usageLog();
  for (let i = 0; i < 100 && log.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    log = await stack.usageLog();
  }
  expect(log).toHaveLength(1);
  expect(log[0]).toMatchObject({ deployment: 'slow', stream: true, complete: false });
});

it('an upstream cut mid-stream reaches the client as an error, and is recorded as incomplete', async () => {
  const before = (await stack.usageLog()).length;
  const res = await postChat(stack.url, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-mock-cut-after-chunks': '3' });
  expect(res.status).toBe(200);
  await expect(res.text()).rejects.toThrow();
  let log = await stack.usageLog();
  for (let i = 0; i < 100 && log.length === before; i++) {
    await new Promise((r) => setTimeout(r, 50));
    log = await stack.usageLog();
  }
  expect(log.slice(before)).toEqual([expect.objectContaining({ deployment: 'slow', stream: true, complete: false })]);
});

it('SIGTERM: the router stops taking streams but lets the open one finish', async () => {
  const res = await streamRequest();
  const text = res.text();
  await new Promise((r) => setTimeout(r, 250));
  const exited = new Promise<number | null>((resolve) => stack.router.process.once('exit', (code) => resolve(code)));
  stack.router.process.kill('SIGTERM');
  const body = await text;
  expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(body.match(/"content":"[^"]+"/g)).toHaveLength(10);
  expect(await exited).toBe(0);
});

it('with the router down, Envoy answers 503 and no request reaches a provider', async () => {
  stack.resetMocks();
  const res = await postChat(stack.url, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-cluster': 'slow' });
  expect(res.status).toBe(503);
  // An OpenAI error SDKs retry, with a message and a stable code (Envoy's internals stay in its log).
  expect(res.headers.get('retry-after')).toBe('1');
  expect(await res.json()).toEqual({ error: { message: "The gateway's router is unavailable; retry shortly.", type: 'service_unavailable_error', param: null, code: 'router_unavailable' } });
  expect(stack.mockRequests()).toBe(0);
});

it("with the router down, an Anthropic SDK client gets Anthropic's overloaded error (529), which the SDK retries", async () => {
  stack.resetMocks();
  const client = new Anthropic({ baseURL: stack.url, apiKey: 'sk-client', maxRetries: 0 });
  const error = await client.messages.create({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Anthropic.InternalServerError);
  const apiError = error as InstanceType<typeof Anthropic.APIError>;
  expect(apiError.status).toBe(529);
  expect(apiError.headers?.get('retry-after')).toBe('1');
  expect(apiError.error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'The gateway could not reach a model deployment or its router; retry shortly.' } });
  expect(stack.mockRequests()).toBe(0);
});

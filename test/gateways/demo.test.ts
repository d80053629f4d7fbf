/**
 * The demo as a user starts it (`npm start`: scripts/start.mjs builds, then runs the mock providers,
 * the router and Envoy with examples/router.yaml and envoy/envoy.yaml as shipped, on their fixed
 * ports), with a real OpenTelemetry Collector where both files send their spans (127.0.0.1:4317 for
 * Envoy, :4318 for the router). A traced chat is one trace holding Envoy's spans and the router's
 * decision, admission and attempt spans; a fallback shows its two attempts; the operator console in
 * headless Chromium follows the running demo.
 *
 * Envoy samples 1% of requests at random, and a client's sampled `traceparent` does not change that
 * (Envoy 1.40's decision comes first; a sampled parent is then still required). A client asks for a
 * trace with `x-client-trace-id`, which the connection manager's client_sampling (100% by default)
 * honours for any client.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import { one, routerSpanUnderEnvoy, startCollector, type Collector } from './support/collector.js';
import { HEALTH_CHANGE_MS, numberIn, openBrowser, signIn, untilAbove } from './support/console.js';

/** The demo's ports and keys, as its banner and examples/mock-providers.yaml give them. */
const ENVOY = 'http://127.0.0.1:10000';
const ROUTER_ADMIN = 'http://127.0.0.1:9090';
const MOCK_PORT = { 'azure-gpt-4o-mini': 18082, 'openai-gpt-4o': 18083 } as const;
const DEMO_KEY = 'sk-llmr-demo';
/** In team `platform`, whose monthly budget the console shows. */
const PREMIUM_KEY = 'sk-llmr-premium';
const ADMIN_TOKEN = randomBytes(16).toString('hex');
const CLIENT_SPAN = '1a2b3c4d5e6f7081';

let collector: Collector;
let demo: Child;
let browser: Browser | undefined;

beforeAll(async () => {
  collector = await startCollector({ grpc: 4317, http: 4318 });
  demo = spawnChild('npm start', process.execPath, [join(PROJECT_ROOT, 'scripts', 'start.mjs')], { env: { ...process.env, LLM_ROUTER_ADMIN_TOKEN: ADMIN_TOKEN } });
  // start.mjs builds first: that takes most of the wait.
  await waitUntil(async () => demo.output().includes('demo is up'), 150_000, () => `the demo did not start:\n${demo.output()}`, demo);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop(10_000);
  await collector?.stop();
});

const newTraceId = (): string => randomBytes(16).toString('hex');

/** A chat through the demo's Envoy; `traceId`: sent as a sampled `traceparent`, and asking Envoy to trace it. */
async function chat(model: string, options: { key?: string; traceId?: string } = {}): Promise<Response> {
  const tracing: Record<string, string> = options.traceId === undefined ? {} : { traceparent: `00-${options.traceId}-${CLIENT_SPAN}-01`, 'x-client-trace-id': options.traceId };
  const res = await fetch(`${ENVOY}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.key ?? DEMO_KEY}`, ...tracing },
    // A new prompt each time: the demo caches gpt-4o-mini's answers, and a hit reaches no provider.
    body: JSON.stringify({ model, messages: [{ role: 'user', content: `Say hello ${randomBytes(4).toString('hex')}` }] }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return res;
}

/** Tells the demo's mock provider of `deployment` how to behave (src/mock/server.ts), as an operator scripts an outage. */
async function behave(deployment: keyof typeof MOCK_PORT, behaviour: Record<string, number>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${MOCK_PORT[deployment]}/_mock/behaviour`, { method: 'PUT', body: JSON.stringify(behaviour) });
  expect(res.ok).toBe(true);
  await res.arrayBuffer();
}

describe('traces of the demo in a real collector', () => {
  it('a traced chat is one trace: Envoy’s spans and the router’s request, decision, admission and attempt spans with gen_ai attributes', async () => {
    const traceId = newTraceId();
    const res = await chat('gpt-4o-mini', { traceId });
    const spans = await collector.trace(traceId, 'chat gpt-4o-mini');
    const root = routerSpanUnderEnvoy(spans, CLIENT_SPAN, 'chat gpt-4o-mini');

    const served = String(root.attrs['llm_router.deployment']);
    expect(['openai-gpt-4o-mini', 'azure-gpt-4o-mini']).toContain(served);
    const provider = served === 'openai-gpt-4o-mini' ? 'openai' : 'azure.ai.openai';
    expect(root.attrs).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': 'gpt-4o-mini',
      'llm_router.request_id': res.headers.get('x-request-id'),
    });
    expect(root.attrs['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(root.attrs['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    const request = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini' };
    const decision = one(spans, 'routing decision');
    expect(decision.attrs).toMatchObject({ ...request, 'llm_router.decision.candidates': ['openai-gpt-4o-mini', 'azure-gpt-4o-mini'] });
    expect(one(spans, 'admission').attrs).toMatchObject({ ...request, 'llm_router.admitted': true });
    const providerModel = served === 'openai-gpt-4o-mini' ? 'gpt-4o-mini-2024-07-18' : 'gpt-4o-mini';
    expect(one(spans, 'chat attempt 1').attrs).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': provider, 'gen_ai.request.model': providerModel, 'llm_router.deployment': served, 'http.response.status_code': 200 });
    for (const s of spans.filter((s) => s.service === 'llm-router' && s !== root)) expect(s.parentSpanId, s.name).toBe(root.spanId);
  });

  it('a fallback shows two attempt spans: gpt-4o failing, then Claude answering', async () => {
    await behave('openai-gpt-4o', { status: 503 });
    try {
      const traceId = newTraceId();
      await chat('gpt-4o', { traceId });
      const spans = await collector.trace(traceId, 'chat gpt-4o');
      const first = one(spans, 'chat attempt 1');
      const second = one(spans, 'chat attempt 2');
      expect(first.attrs).toMatchObject({ 'llm_router.deployment': 'openai-gpt-4o', 'http.response.status_code': 503 });
      expect(first.status?.code).toBe(2);
      expect(second.attrs).toMatchObject({ 'llm_router.deployment': 'anthropic-claude-sonnet', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-5', 'http.response.status_code': 200 });
      expect(one(spans, 'chat gpt-4o').attrs).toMatchObject({ 'llm_router.deployment': 'anthropic-claude-sonnet', 'gen_ai.provider.name': 'anthropic' });
    } finally {
      await behave('openai-gpt-4o', { status: 200 });
    }
  });

  it('keeps the demo’s output free of export failures while the collector runs', () => {
    expect(demo.output()).not.toContain('trace export failed');
  });
});

describe('the operator console against the running demo, in headless Chromium', () => {
  let page: Page;
  let problems: string[];

  it('signs in with the admin token and lists every deployment healthy', async () => {
    ({ browser, page, problems } = await openBrowser());
    await page.goto(`${ROUTER_ADMIN}/console`);
    await signIn(page, ADMIN_TOKEN);
    for (const d of ['openai-gpt-4o-mini', 'azure-gpt-4o-mini', 'openai-gpt-4o', 'anthropic-claude-sonnet', 'openai-embedding']) {
      await page.waitForSelector(`tr[data-deployment="${d}"][data-health="healthy"]`);
    }
  });

  it('shows spend rising after requests, and the last decisions with their attempts', async () => {
    const budget = 'tr[data-budget="team platform month"]';
    const spender = 'tr[data-spender="key:premium-tier"]';
    const [budgetBefore, spentBefore] = [await numberIn(page, budget, 'data-spent'), await numberIn(page, spender, 'data-cost-nanos')];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await chat('gpt-4o-mini', { key: PREMIUM_KEY })).headers.get('x-request-id')!);
    await untilAbove(page, budget, 'data-spent', budgetBefore);
    await untilAbove(page, spender, 'data-cost-nanos', spentBefore);
    for (const id of ids) {
      const row = page.locator(`tr[data-request-id="${id}"]`);
      await row.waitFor();
      const text = await row.textContent();
      expect(text).toContain('gpt-4o-mini (');
      expect(text).toMatch(/(openai|azure)-gpt-4o-mini:200 ok/);
    }
  });

  it('shows a deployment turning unhealthy when its provider fails, and healthy again once it recovers', async () => {
    await behave('azure-gpt-4o-mini', { health_status: 503 });
    try {
      await page.waitForSelector('tr[data-deployment="azure-gpt-4o-mini"][data-health="unhealthy"]', { timeout: HEALTH_CHANGE_MS });
      // A request while it is out: its decision lists the exclusion.
      const id = (await chat('gpt-4o-mini')).headers.get('x-request-id')!;
      const row = page.locator(`tr[data-request-id="${id}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain('excluded azure-gpt-4o-mini:unhealthy');
    } finally {
      await behave('azure-gpt-4o-mini', { health_status: 200 });
    }
    await page.waitForSelector('tr[data-deployment="azure-gpt-4o-mini"][data-health="healthy"]', { timeout: HEALTH_CHANGE_MS });
    expect(problems).toEqual([]);
  });
});

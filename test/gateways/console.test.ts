/**
 * The operator console in a real browser: headless Chromium (Debian's package, scripts/gateways/
 * chromium.mjs) driven by playwright-core opens it on the admin server of a running stack (real
 * Envoy, the built router, mock providers), signs in with the admin token, and watches the stack
 * live: spend rising on every budget and owner after requests, the newest decisions with their
 * attempts, and a deployment failing Envoy's health checks turning unhealthy and back. The
 * screenshot in the README (docs/console.png) is taken here, with the deployment unhealthy.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { startStack, type Stack } from '../support/stack.js';
import { HEALTH_CHANGE_MS, numberIn, openBrowser, signIn, untilAbove } from './support/console.js';

const KEY = 'sk-console-ops-0001';

let stack: Stack;
let browser: Browser;
let page: Page;
/** What the page reported as broken: script errors, CSP violations, failed loads. */
let problems: string[];

beforeAll(async () => {
  stack = await startStack({
    deployments: [
      { name: 'chat-a', group: 'chat', providerModel: 'gpt-4o-2024-08-06' },
      { name: 'chat-b', group: 'chat', providerModel: 'gpt-4o-2024-11-20' },
    ],
    config: {
      auth: { mode: 'keys' },
      keys: [{ name: 'ops', key_sha256: hashKey(KEY), team: 'platform', tags: ['batch'], budgets: [{ usd: 5, window: 'day' }] }],
      teams: [{ name: 'platform', budgets: [{ usd: 20, window: 'day' }] }],
      tag_budgets: [{ tag: 'batch', usd: 10, window: 'day' }],
      provider_budgets: [{ provider: 'openai', usd: 50, window: 'day' }],
    },
  });
  ({ browser, page, problems } = await openBrowser());
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function chat(): Promise<string> {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return res.headers.get('x-request-id')!;
}

function takeProblems(): string[] {
  return problems.splice(0);
}

describe('the operator console in headless Chromium', () => {
  it('asks for the admin token, refuses a wrong one, keeps the right one out of the URL and cookies, and runs no inline script', async () => {
    await page.goto(`${stack.routerAdmin}/console`);
    await page.fill('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await expect.poll(() => page.textContent('#login-error')).toBe('The token was not accepted.');
    expect(await page.isVisible('#board')).toBe(false);
    // The browser reports the refused sign-in; nothing else may go wrong on the page.
    expect(takeProblems().every((p) => p.includes('status of 401'))).toBe(true);

    await signIn(page, stack.adminToken);
    expect(page.url()).toBe(`${stack.routerAdmin}/console`);
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate("sessionStorage.getItem('llm-router-admin-token')")).toBe(stack.adminToken);
    for (const d of ['chat-a', 'chat-b']) await page.waitForSelector(`tr[data-deployment="${d}"][data-health="healthy"]`);

    // The page's CSP is in force: an inline script put into it does not run.
    await page.addScriptTag({ content: 'window.injected = true' }).catch(() => undefined);
    expect(await page.evaluate('window.injected')).toBeUndefined();
    expect(takeProblems()).toEqual([expect.stringContaining('Content Security Policy')]);
  });

  it('shows spend rising on every budget and owner after requests, and the newest decisions with their attempts', async () => {
    const budgets = ['key ops day', 'team platform day', 'tag batch day', 'provider openai day'];
    const spenders = ['key:ops', 'team:platform', 'tag:batch', 'provider:openai'];
    for (const b of budgets) expect(await numberIn(page, `tr[data-budget="${b}"]`, 'data-spent')).toBe(0);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await chat());
    for (const b of budgets) await untilAbove(page, `tr[data-budget="${b}"]`, 'data-spent', 0);
    for (const s of spenders) await untilAbove(page, `tr[data-spender="${s}"]`, 'data-cost-nanos', 0);
    const newest = page.locator(`tr[data-request-id="${ids.at(-1)}"]`);
    await newest.waitFor();
    const text = await newest.textContent();
    expect(text).toContain('chat (');
    expect(text).toMatch(/chat-[ab]:200 ok/);
  });

  it("shows a deployment failing Envoy's health checks turning unhealthy, then healthy again", async () => {
    stack.mock('chat-b').setBehaviour({ health_status: 503 });
    await page.waitForSelector('tr[data-deployment="chat-b"][data-health="unhealthy"]', { timeout: HEALTH_CHANGE_MS });
    await page.waitForSelector('tr[data-deployment="chat-a"][data-health="healthy"]');
    // A request while it is out: its decision lists the exclusion.
    const id = await chat();
    const row = page.locator(`tr[data-request-id="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('excluded chat-b:unhealthy');
    await page.screenshot({ path: join(PROJECT_ROOT, 'docs', 'console.png'), fullPage: true });

    stack.mock('chat-b').setBehaviour({ health_status: 200 });
    await page.waitForSelector('tr[data-deployment="chat-b"][data-health="healthy"]', { timeout: HEALTH_CHANGE_MS });
    expect(problems).toEqual([]);
  });
});

/**
 * The operator console in headless Chromium (Debian's package, scripts/gateways/chromium.mjs) driven
 * by playwright-core: the browser, signing in, and reading the numbers the page keeps up to date.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Envoy checks every 2 s and needs two failures or passes; the router reads Envoy's view every second. */
export const HEALTH_CHANGE_MS = 20_000;

export interface ConsoleBrowser {
  readonly browser: Browser;
  readonly page: Page;
  /** What the page reported as broken so far: script errors, CSP violations, failed loads. */
  readonly problems: string[];
}

export async function openBrowser(): Promise<ConsoleBrowser> {
  const executablePath = process.env.CHROMIUM_BIN;
  if (executablePath === undefined || executablePath === '') throw new Error('CHROMIUM_BIN is not set: run this through `npm run test:gateways` (scripts/gateways/chromium.mjs)');
  // As root, Chromium refuses to start with its sandbox; the page it loads is this project's own.
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  return { browser, page, problems };
}

/** Signs in on the console's login form already open in `page`, and waits for the live board. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#board', { state: 'visible' });
  await page.waitForSelector('#status:text-matches("^live")');
}

export const numberIn = async (page: Page, selector: string, attribute: string): Promise<number> => Number(await page.getAttribute(selector, attribute));

/** Waits until the number in attribute `attribute` of the element `selector` passes `min`, as the page updates itself. */
export async function untilAbove(page: Page, selector: string, attribute: string, min: number): Promise<void> {
  await expect.poll(() => numberIn(page, selector, attribute), { timeout: 10_000 }).toBeGreaterThan(min);
}

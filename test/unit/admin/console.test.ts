/**
 * The operator console's side of the admin server: its page is public and locked down by CSP, its
 * snapshot and event stream need the token, and the snapshot carries what the page shows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { budgetCharge } from '../../../src/admission/charges.js';
import { MAX_CONSOLE_STREAMS, type ConsoleSnapshot } from '../../../src/admin/console.js';
import type { AdminServer } from '../../../src/admin/server.js';
import { waitUntil } from '../../../src/devstack/processes.js';
import { RecentRequests } from '../../../src/telemetry/recent.js';
import { startTestAdmin } from '../../support/admin.js';
import { record } from '../../support/contracts/state-store.js';

const TOKEN = 'console-token';
const NOW = Date.UTC(2026, 11, 1, 12);
const auth = { authorization: `Bearer ${TOKEN}` };

let server: AdminServer | null = null;
const streams: AbortController[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.abort();
  await server?.close();
  server = null;
});

async function start() {
  const recent = new RecentRequests(2);
  const budget = () => [budgetCharge('key demo', 'key:demo', { usd: 1, window: 'day' }, 0, NOW)];
  const started = await startTestAdmin({
    token: { env: 'ADMIN_TOKEN', value: TOKEN },
    deployments: () => ['mini-a', 'mini-b'],
    unhealthy: () => new Map([['mini-b', 'envoy: failed_active_hc']]),
    budgets: budget,
    console: {
      deployments: () => [
        { name: 'mini-a', provider: 'openai', groups: ['gpt-4o-mini'] },
        { name: 'mini-b', provider: 'openai', groups: ['gpt-4o-mini'] },
      ],
      spenders: () => ({ key: ['demo'], team: [], tag: [], provider: ['openai'] }),
      recent: () => recent.newest(),
    },
    now: () => NOW,
  });
  server = started.server;
  const { store } = started;
  await store.coolDown('mini-a', NOW + 30_000);
  await store.admit('r1', budget().map((c) => ({ ...c, amount: 250_000_000 })));
  await store.recordUsage(record({ requestId: 'r1', keyId: 'demo', timestampMs: NOW, costNanos: 250_000_000 }));
  const routing = { outcome: 'routed', group: 'gpt-4o-mini', pick: 'mini-a', attempts: [{ attempt: 1, deployment: 'mini-a', status: 200, result: 'ok' }] };
  for (const id of ['r0', 'r1', 'r2']) recent.add(record({ requestId: id, timestampMs: NOW }), id === 'r0' ? undefined : routing);
  return `http://127.0.0.1:${server.port}`;
}

describe('operator console', () => {
  it('serves its page and assets without the token, under a strict CSP and with no inline script', async () => {
    const base = await start();
    const page = await fetch(`${base}/console`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/console/app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|style=/i);
    expect((await fetch(`${base}/console/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/console/style.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    // Its icon is its own: a browser then asks for no /favicon.ico, which needs the token.
    expect(html).toContain('<link rel="icon" href="/console/favicon.svg"');
    expect((await fetch(`${base}/console/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml');
  });

  it('answers 401 for the snapshot and the event stream without the token, or with a wrong one', async () => {
    const base = await start();
    for (const path of ['/console/state', '/console/events']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        const res = await fetch(`${base}${path}`, { headers });
        expect([path, res.status, res.headers.get('www-authenticate')]).toEqual([path, 401, 'Bearer']);
      }
    }
  });

  it('reports deployments with health, load and cooldowns, budgets, spend by owner and the newest decisions', async () => {
    const base = await start();
    const res = await fetch(`${base}/console/state`, { headers: auth });
    expect(res.status).toBe(200);
    const s = (await res.json()) as ConsoleSnapshot;
    expect(s.now).toBe(NOW);
    expect(s.deployments).toEqual([
      expect.objectContaining({ name: 'mini-a', provider: 'openai', unhealthy: null, load: expect.objectContaining({ inFlight: 0, coolingUntilMs: NOW + 30_000 }) }),
      expect.objectContaining({ name: 'mini-b', unhealthy: 'envoy: failed_active_hc' }),
    ]);
    expect(s.budgets).toEqual([expect.objectContaining({ owner: 'key demo', window: 'day', limit_usd: 1, spent_usd: 0.25, remaining_usd: 0.75 })]);
    expect(s.spend.key).toEqual([expect.objectContaining({ id: 'demo', requests: 1, costNanos: 250_000_000 })]);
    expect(s.spend.provider).toEqual([expect.objectContaining({ id: 'openai', requests: 1 })]);
    // Newest first, and only as many as the ring holds.
    expect(s.recent.map((r) => r.requestId)).toEqual(['r2', 'r1']);
    expect(s.recent[0]!.routing!.attempts).toEqual([expect.objectContaining({ deployment: 'mini-a', status: 200, result: 'ok' })]);
  });

  it('reads from its own origin in a browser, while other origins stay refused', async () => {
    const base = await start();
    const host = new URL(base).host;
    expect((await fetch(`${base}/console/state`, { headers: { ...auth, origin: `http://${host}` } })).status).toBe(200);
    expect((await fetch(`${base}/console/state`, { headers: { ...auth, origin: 'http://evil.example' } })).status).toBe(403);
  });

  it(`streams snapshots as server-sent events, at most ${MAX_CONSOLE_STREAMS} streams at once`, async () => {
    const base = await start();
    const open = async () => {
      const controller = new AbortController();
      streams.push(controller);
      return fetch(`${base}/console/events`, { headers: auth, signal: controller.signal });
    };
    const first = await open();
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    const reader = first.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += (await reader.read()).value;
    const event = text.slice(0, text.indexOf('\n\n'));
    expect(event.split('\n')[0]).toBe('event: state');
    expect((JSON.parse(event.split('\n')[1]!.slice('data: '.length)) as ConsoleSnapshot).deployments).toHaveLength(2);
    for (let i = 1; i < MAX_CONSOLE_STREAMS; i++) expect((await open()).status).toBe(200);
    expect((await open()).status).toBe(503);
    // A stream that closes frees its place.
    streams[1]!.abort();
    await waitUntil(async () => (await open()).status === 200, 5000, () => 'no stream place freed');
  });
});

/**
 * The router's admin API against a web page on the same host, with real Envoy in front: a page that
 * rebinds its DNS name to 127.0.0.1 (its name arrives as Host), posts text/plain (no CORS
 * preflight) or calls cross-origin (its Origin arrives) mints no key and reloads nothing; the
 * operator's request with the token does, and the key it mints works through Envoy at once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { postChat, rawRequest } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    config: { auth: { mode: 'keys', cache_ms: 0 }, keys: [] },
    deployments: [{ name: 'only', group: 'chat' }],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const KEY = 'sk-test-minted-0001';
const port = () => new URL(stack.routerAdmin).port;
const chat = async () => (await postChat(stack.url, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${KEY}` })).status;

/** PUT /keys as the operator sends it, with `change` applied to its headers. */
const mint = (change: Record<string, string | undefined>) => {
  const headers: Record<string, string> = { host: `127.0.0.1:${port()}`, authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return rawRequest(`${stack.routerAdmin}/keys`, { method: 'PUT', headers, body: JSON.stringify({ name: 'minted', key: KEY }) });
};

it('refuses a rebinding Host, a text/plain body, a foreign Origin and a missing token; takes the operator\'s request', async () => {
  expect(await chat()).toBe(401);
  expect(await mint({ host: `evil.example:${port()}` })).toEqual({ status: 403, body: { error: expect.stringMatching(/^host not allowed/) } });
  expect(await mint({ 'content-type': 'text/plain' })).toEqual({ status: 415, body: { error: 'a request body must be JSON: content-type: application/json' } });
  expect(await mint({ origin: 'https://evil.example' })).toEqual({ status: 403, body: { error: 'browser requests (with an Origin header) are refused' } });
  expect(await mint({ authorization: undefined })).toEqual({ status: 401, body: { error: 'admin token required: Authorization: Bearer <token>' } });
  const reload = await rawRequest(`${stack.routerAdmin}/config/reload`, { method: 'POST', headers: { host: `evil.example:${port()}`, authorization: `Bearer ${stack.adminToken}` } });
  expect(reload.status).toBe(403);
  expect(await chat()).toBe(401); // nothing was minted

  expect(await mint({})).toEqual({ status: 200, body: { name: 'minted', key_sha256: hashKey(KEY) } });
  expect(await chat()).toBe(200);
});

it('keeps probes and the scraper open without the token, but not to a rebinding Host', async () => {
  for (const path of ['/healthz', '/readyz', '/metrics']) expect([path, (await fetch(`${stack.routerAdmin}${path}`)).status]).toEqual([path, 200]);
  expect((await rawRequest(`${stack.routerAdmin}/healthz`, { headers: { host: 'evil.example' } })).status).toBe(403);
});

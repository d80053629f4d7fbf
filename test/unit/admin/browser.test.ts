/**
 * A web page on the admin's host must not reach the admin API: neither by rebinding its own name to
 * 127.0.0.1 (its name arrives as Host), nor cross-origin (its Origin arrives), nor with a body a
 * page may send without a preflight (text/plain, forms).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { allowedHostNames, hostAllowed } from '../../../src/admin/guard.js';
import type { AdminServer } from '../../../src/admin/server.js';
import { startTestAdmin } from '../../support/admin.js';
import { rawRequest } from '../../support/clients.js';

let server: AdminServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const TOKEN = 's3cret-token';
const KEY = JSON.stringify({ name: 'intruder', key: 'sk-intruder-0001' });

interface Sent {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

const send = (port: number, { path = '/usage/log', headers = {}, ...rest }: Sent) =>
  rawRequest(`http://127.0.0.1:${port}${path}`, { ...rest, headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}`, ...headers } });

async function start(options: { allowedHosts?: string[]; address?: string } = {}) {
  let store;
  ({ server, store } = await startTestAdmin({
    listen: { address: options.address ?? '127.0.0.1', port: 0 },
    allowedHosts: options.allowedHosts ?? [],
    token: { env: 'ADMIN_TOKEN', value: TOKEN },
    now: () => 0,
  }));
  return { store, port: server.port };
}

const putKey = (headers: Record<string, string>): Sent => ({ method: 'PUT', path: '/keys', headers, body: KEY });

describe('admin API against browsers', () => {
  it('refuses a rebinding page: a DNS name it was not told about, on every endpoint, probes included', async () => {
    const { store, port } = await start();
    const host = { host: `evil.example:${port}` };
    for (const s of [putKey({ ...host, 'content-type': 'application/json' }), { path: '/usage/log', headers: host }, { path: '/healthz', headers: host }, { method: 'POST', path: '/config/reload', headers: host }]) {
      expect(await send(port, s)).toEqual({ status: 403, body: { error: 'host not allowed: use an IP address or localhost, or list the name in server.admin.allowed_hosts' } });
    }
    expect(await store.usageLog(10)).toEqual([]);
    expect((await send(port, putKey({ 'content-type': 'application/json' }))).status).toBe(200);
  });

  it('accepts IP addresses, localhost, the listen address and allowed_hosts by name, any port', async () => {
    const { port } = await start({ allowedHosts: ['Router-Admin.svc'] });
    for (const host of ['127.0.0.1', `127.0.0.1:${port}`, '10.1.2.3:9090', '[::1]:9090', `localhost:${port}`, 'LOCALHOST', 'router-admin.svc:9090']) {
      expect([host, (await send(port, { headers: { host } })).status]).toEqual([host, 200]);
    }
    for (const host of ['router-admin.svc.evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', 'a@127.0.0.1']) {
      expect([host, (await send(port, { headers: { host } })).status]).toEqual([host, 403]);
    }
  });

  it('refuses a write that carries an Origin, even one naming the admin itself', async () => {
    const { port } = await start();
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port}`]) {
      expect(await send(port, putKey({ 'content-type': 'application/json', origin }))).toEqual({ status: 403, body: { error: 'browser requests (with an Origin header) are refused' } });
    }
  });

  it('takes only JSON bodies: text/plain and forms (no preflight) get 415', async () => {
    const { store, port } = await start();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp']) {
      expect(await send(port, putKey({ 'content-type': type }))).toEqual({ status: 415, body: { error: 'a request body must be JSON: content-type: application/json' } });
    }
    expect((await send(port, putKey({}))).status).toBe(415); // a body without a content type
    expect((await send(port, { method: 'POST', path: '/config/reload', headers: { 'content-type': 'text/plain' }, body: '' })).status).toBe(415);
    expect(await store.getKey('0'.repeat(64))).toBeNull();
    expect((await send(port, putKey({ 'content-type': 'application/json; charset=utf-8' }))).status).toBe(200);
    expect((await send(port, { method: 'POST', path: '/config/reload' })).status).toBe(200); // no body: nothing to type
    expect((await send(port, { path: '/usage/log', headers: { 'content-type': 'text/plain' } })).status).toBe(200); // a GET has no body to read
  });

  it('does not buffer a body past what a key record needs', async () => {
    const { port } = await start();
    const big = JSON.stringify({ name: 'big', key: 'sk-big-00001', tags: Array.from({ length: 20_000 }, (_, i) => `tag-${i}`) });
    expect(await send(port, { method: 'PUT', path: '/keys', headers: { 'content-type': 'application/json' }, body: big })).toEqual({ status: 413, body: { error: 'a key record is at most 65536 bytes' } });
  });
});

describe('allowed host names', () => {
  it('add a listen address given by name; an IP listen address needs no entry', () => {
    expect([...allowedHostNames('Admin.Internal', ['x.svc'])]).toEqual(['x.svc', 'admin.internal']);
    expect([...allowedHostNames('0.0.0.0', [])]).toEqual([]);
    expect(hostAllowed('admin.internal:9090', allowedHostNames('admin.internal', []))).toBe(true);
    expect(hostAllowed(undefined, new Set())).toBe(false);
  });
});

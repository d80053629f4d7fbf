/** The admin API's bearer token: what it protects, what stays open for probes and scrapers. */
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminServer } from '../../../src/admin/server.js';
import { startTestAdmin } from '../../support/admin.js';

let server: AdminServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(token: { env: string; value: string | null } | null, open = false) {
  let store;
  ({ server, store } = await startTestAdmin({ token, open }));
  const url = `http://127.0.0.1:${server.port}`;
  const status = async (path: string, init: RequestInit = {}) => (await fetch(`${url}${path}`, init)).status;
  return { store, url, status };
}

const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
const putKey = (t?: string): RequestInit => ({
  method: 'PUT',
  headers: { 'content-type': 'application/json', ...(t === undefined ? {} : { authorization: `Bearer ${t}` }) },
  body: JSON.stringify({ name: 'intruder', key: 'sk-intruder-0001' }),
});

describe('admin token', () => {
  it('guards usage, keys, budgets and reload; leaves /healthz, /readyz and /metrics to probes and scrapers', async () => {
    const { status } = await start({ env: 'ADMIN_TOKEN', value: 's3cret-token' });
    for (const path of ['/usage/log', '/budgets', '/load']) {
      expect([await status(path), await status(path, bearer('wrong')), await status(path, bearer('s3cret-token'))]).toEqual([401, 401, 200]);
    }
    expect(await status('/config/reload', { method: 'POST' })).toBe(401);
    expect(await status('/keys', putKey())).toBe(401);
    expect(await status('/keys', putKey('s3cret-token'))).toBe(200);
    expect([await status('/healthz'), await status('/metrics'), await status('/readyz')]).toEqual([200, 200, 503]); // readyz: not marked ready here
  });

  it('with its variable unset, lets nobody in (never open by mistake)', async () => {
    const { status } = await start({ env: 'ADMIN_TOKEN', value: null });
    expect([await status('/usage/log'), await status('/usage/log', bearer('anything')), await status('/keys', putKey('anything'))]).toEqual([401, 401, 401]);
    expect(await status('/healthz')).toBe(200);
  });

  it('without token_env, lets nobody in but probes and scrapers', async () => {
    const { url, status } = await start(null);
    const res = await fetch(`${url}/keys`, putKey('anything'));
    expect([res.status, await res.json()]).toEqual([401, { error: 'admin API closed: set server.admin.token_env (or server.admin.open: true)' }]);
    expect([await status('/usage/log'), await status('/config/reload', { method: 'POST' })]).toEqual([401, 401]);
    expect([await status('/healthz'), await status('/metrics')]).toEqual([200, 200]);
  });

  it('open only when the config says so (server.admin.open)', async () => {
    const { status } = await start(null, true);
    expect([await status('/usage/log'), await status('/keys', putKey())]).toEqual([200, 200]);
  });
});

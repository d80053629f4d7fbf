/**
 * The gateway as platform teams run it, through real Envoy: an app shares the listener with the LLM
 * routes and passes through untouched (the router is not asked, nor do its filters change a header
 * or a byte), and deployments are served by clusters whose names a mesh or gateway made
 * (`outbound|443||api.openai.com` from Istio, `httproute/default/llm/rule/0` from Envoy Gateway):
 * routed, fallen back and billed by deployment all the same.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postChat, streamWithUsage } from '../support/clients.js';
import { startApp } from '../support/app.js';
import { startStack, type Stack } from '../support/stack.js';
import { recordWhere } from '../support/usage.js';

const PRIMARY_CLUSTER = 'outbound|443||api.openai.com';
const BACKUP_CLUSTER = 'httproute/default/llm/rule/0';

let stack: Stack;
let app: Awaited<ReturnType<typeof startApp>>;

beforeAll(async () => {
  app = await startApp();
  stack = await startStack({
    deployments: [
      { name: 'mesh-openai', cluster: PRIMARY_CLUSTER, group: 'mesh', providerModel: 'gpt-4o-mesh', apiKeyEnv: 'KEY_MESH' },
      // Azure's: the router sets its path (/openai/deployments/…), and the request, matched again on it, stays on the LLM routes.
      { name: 'gateway-backup', cluster: BACKUP_CLUSTER, group: 'backup', providerModel: 'gpt-4o-backup', apiKeyEnv: 'KEY_BACKUP', extra: { provider: 'azure-openai' } },
    ],
    groups: { mesh: { fallbacks: ['backup'] } },
    routing: { decision_header: true },
    routerEnv: { KEY_MESH: 'sk-mesh', KEY_BACKUP: 'sk-backup' },
    appPort: app.port,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => app?.server.close(resolve));
});

/** Envoy's counts of the first deployment's retried 503s and the second's 200s, by their clusters' names. */
async function clusterCounts(): Promise<{ primary503: number; backup200: number }> {
  const stats = await stack.stats('upstream_rq_(200|503)$');
  return { primary503: stats[`cluster.${PRIMARY_CLUSTER}.retry.upstream_rq_503`] ?? 0, backup200: stats[`cluster.${BACKUP_CLUSTER}.upstream_rq_200`] ?? 0 };
}

/** Every ext_proc stream Envoy opened to the router (any of its filters, downstream or upstream). */
const routerStreams = async () => (await stack.stats('^cluster\\.llm_router\\.upstream_rq_total$'))['cluster.llm_router.upstream_rq_total'] ?? 0;

describe('an app sharing the listener', () => {
  /** What a client of the app sends: the gateway's own header names and a credential among them. */
  const CLIENT_HEADERS = {
    'content-type': 'application/json',
    authorization: 'Bearer the-app-s-session',
    'x-llm-plan': 'mesh-openai gateway-backup',
    'x-llm-hop-2': BACKUP_CLUSTER,
    'x-llm-stream': '1',
    'x-llm-translate': '1',
    'x-llm-tags': 'team-a',
    'x-request-id': 'app-request-1',
  };
  const BODY = '{"model": "mesh",  "messages": [{"role": "user", "content": "not for the router"}]}';

  it('reaches its backend with every header and byte as the client sent them, and the router never asked', async () => {
    const streamsBefore = await routerStreams();
    const res = await fetch(`${stack.url}/app/v1/chat/completions?keep=1`, { method: 'POST', headers: CLIENT_HEADERS, body: BODY });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the app answered');
    // The app's own response headers too: an LLM route would remove x-llm-retry.
    expect(res.headers.get('x-llm-retry')).toBe('the-app-s-own');
    const seen = app.seen.at(-1)!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/app/v1/chat/completions?keep=1');
    expect(seen.body.toString('utf8')).toBe(BODY);
    for (const [name, value] of Object.entries(CLIENT_HEADERS)) expect([name, seen.headers[name]]).toEqual([name, value]);
    // Envoy adds what it adds to any proxied request, and nothing of the router's.
    const added = Object.keys(seen.headers).filter((h) => !(h in CLIENT_HEADERS));
    expect(added.filter((h) => h.startsWith('x-llm-') || h.startsWith('x-envoy-'))).toEqual([]);
    expect(await routerStreams()).toBe(streamsBefore);
    expect(stack.mockRequests()).toBe(0);
  });

  it("an app's error goes back as the app wrote it, not retried and not reported to the router", async () => {
    const streamsBefore = await routerStreams();
    const count = app.seen.length;
    const res = await fetch(`${stack.url}/status`, { headers: { 'x-app-status': '503' } });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('the app answered');
    expect(app.seen.length).toBe(count + 1);
    expect(await routerStreams()).toBe(streamsBefore);
  });

  it('the LLM routes of the same listener are still routed by the router, on whatever path the provider takes', async () => {
    const streamsBefore = await routerStreams();
    const count = app.seen.length;
    const res = await postChat(stack.url, { model: 'backup', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(await routerStreams()).toBeGreaterThan(streamsBefore);
    const seen = stack.mocks['gateway-backup']![0]!.stats().last.at(-1)!;
    expect([seen.path.startsWith('/openai/deployments/gpt-4o-backup/chat/completions'), seen.headers['api-key']]).toEqual([true, 'sk-backup']);
    expect(app.seen.length).toBe(count);
  });

  it("a request that carries the routing header is the router's, whatever its path: the app never sees it", async () => {
    const count = app.seen.length;
    const res = await fetch(`${stack.url}/app/page`, { headers: { 'x-llm-cluster': BACKUP_CLUSTER } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect(app.seen.length).toBe(count);
  });
});

describe('deployments on clusters a mesh or gateway named', () => {
  it('a stream with usage, billed to the deployment whose cluster served it', async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
    const { text, usage } = await streamWithUsage(client, 'backup');
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    const record = await recordWhere(stack, (r) => r.stream);
    expect(record).toMatchObject({ deployment: 'gateway-backup', providerModel: 'gpt-4o-backup', complete: true, completionTokens: usage!.completion_tokens });
    expect(stack.mocks['gateway-backup']![0]!.stats().last.at(-1)!.headers['api-key']).toBe('sk-backup');
  });

  it('a 503 from the first deployment falls back to the next hop, its credential and model id, and bills it', async () => {
    stack.resetMocks();
    stack.mocks['mesh-openai']![0]!.setBehaviour({ status: 503 });
    const before = await clusterCounts();
    const res = await postChat(stack.url, { model: 'mesh', messages: [{ role: 'user', content: 'hi' }] }, { 'x-llm-router-debug': '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llm-router-decision')).toMatch(/; attempts=mesh-openai:503,gateway-backup:200$/);
    expect(stack.mocks['mesh-openai']![0]!.stats().last.at(-1)!.authorization).toBe('Bearer sk-mesh');
    const hop = stack.mocks['gateway-backup']![0]!.stats().last.at(-1)!;
    expect([hop.path.startsWith('/openai/deployments/gpt-4o-backup/'), hop.headers['api-key'], hop.authorization]).toEqual([true, 'sk-backup', null]);
    expect(await recordWhere(stack, (r) => r.requestedModel === 'mesh')).toMatchObject({ deployment: 'gateway-backup', providerModel: 'gpt-4o-backup', status: 200 });
    // Envoy counts by cluster (a response retried elsewhere under `retry.`); the router's record, by deployment.
    const after = await clusterCounts();
    expect([after.primary503 - before.primary503, after.backup200 - before.backup200]).toEqual([1, 1]);
  });
});

describe('the app down', () => {
  it("Envoy's own answer for the app's route, as Envoy writes it, not in the router's error format", async () => {
    await new Promise((resolve) => app.server.close(resolve));
    const res = await fetch(`${stack.url}/page`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toMatch(/^upstream connect error/);
  });
});

/**
 * The router behind an Istio ingress gateway: istiod, built from Istio's source, serves the shipped
 * deploy/istio/ manifests (rendered for loopback mocks) to a stock Envoy acting as the
 * `istio: ingressgateway` pod. OpenAI's SDK calls the LLM host through it: a chat, a stream with
 * usage, and a fallback hop from OpenAI to Anthropic after a 503, every one billed to the provider
 * that answered. Another team's app on its own host of the same gateway passes untouched, its
 * requests never reaching the router. check-envoy passes against the Envoy istiod configured, and
 * every manifest passes `istioctl validate` and `istioctl analyze` from the same build.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { startApp } from '../support/app.js';
import { readStream } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';
import { fetchWithHost } from './support/host-fetch.js';
import { APP_HOST, ISTIO_MANIFESTS, istioGateway } from './support/istio.js';

/** The VirtualService's host (deploy/istio/gateway.yaml): Istio routes by it. */
const LLM_HOST = 'llm.example.com';
const OPENAI = { name: 'openai-gpt-4o', cluster: 'outbound|443||api.openai.com' };
const ANTHROPIC = { name: 'anthropic-claude-sonnet', cluster: 'outbound|443||api.anthropic.com' };

let stack: Stack;
let app: Awaited<ReturnType<typeof startApp>>;
const client = () => new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0, fetch: fetchWithHost(LLM_HOST) });
const ask = () => client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });

beforeAll(async () => {
  app = await startApp();
  stack = await startStack({
    appPort: app.port,
    gateway: await istioGateway(),
    deployments: [
      { ...OPENAI, group: 'gpt-4o', providerModel: 'gpt-4o-2024-08-06', apiKeyEnv: 'KEY_OPENAI', mock: { strict: true } },
      { ...ANTHROPIC, group: 'claude-sonnet', providerModel: 'claude-sonnet-4-5', apiKeyEnv: 'KEY_ANTHROPIC', extra: { provider: 'anthropic' } },
    ],
    groups: { 'gpt-4o': { fallbacks: ['claude-sonnet'] } },
    routerEnv: { KEY_OPENAI: 'sk-openai', KEY_ANTHROPIC: 'sk-ant' },
  });
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => app?.server.close(resolve));
});

/** Every ext_proc stream Envoy opened to the router's Service (istiod's cluster; its stats go by its alt_stat_name). */
async function routerStreams(): Promise<number> {
  const stats = await stack.stats('upstream_rq_total$');
  return Object.entries(stats)
    .filter(([name]) => name.startsWith('cluster.outbound|50051||llm-router.llm-router.svc.cluster.local'))
    .reduce((sum, [, n]) => sum + n, 0);
}

describe('through the Istio ingress gateway istiod configured', () => {
  it('a chat goes to the deployment the router picked, with its credential and model id', async () => {
    stack.resetMocks();
    const res = await ask();
    expect(res.choices[0]!.message.content).toBeTruthy();
    const seen = stack.lastSeen(OPENAI.name);
    expect(seen.headers.authorization).toBe('Bearer sk-openai');
    expect(seen.body).toMatchObject({ model: 'gpt-4o-2024-08-06' });
    expect(await stack.lastRecord()).toMatchObject({ deployment: OPENAI.name, status: 200, complete: true });
  });

  it('a stream arrives whole, with its usage, and is billed', async () => {
    const stream = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } });
    const { text, usage } = await readStream(stream);
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(await stack.lastRecord()).toMatchObject({ deployment: OPENAI.name, stream: true, complete: true, completionTokens: usage!.completion_tokens });
  });

  it('after a 503 from OpenAI, Envoy retries on the Anthropic hop the router planned, translated and with its own credential', async () => {
    stack.resetMocks();
    stack.mock(OPENAI.name).setBehaviour({ status: 503 });
    try {
      const res = await ask();
      expect(res.choices[0]!.message.content).toBeTruthy();
    } finally {
      stack.mock(OPENAI.name).setBehaviour({ status: 200 });
    }
    expect(stack.mock(OPENAI.name).stats().statuses).toEqual({ '503': 1 });
    const hop = stack.lastSeen(ANTHROPIC.name);
    expect(hop.path).toBe('/v1/messages');
    expect(hop.headers['x-api-key']).toBe('sk-ant');
    expect(hop.body).toMatchObject({ model: 'claude-sonnet-4-5' });
    expect(await stack.lastRecord()).toMatchObject({ deployment: ANTHROPIC.name, status: 200 });
  });

  it('check-envoy --admin passes against the Envoy istiod configured', () => {
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'dist', 'main.js'), 'check-envoy', '-c', stack.routerConfigFiles[0]!, '--admin', stack.envoyAdmin], { encoding: 'utf8', env: process.env });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/fits .*: 0 errors/);
  });
});

describe("another team's app on the same gateway", () => {
  /** What a client of the app sends: the gateway's own header names and a credential among them. */
  const CLIENT_HEADERS = {
    'content-type': 'application/json',
    authorization: 'Bearer the-app-s-session',
    'x-llm-cluster': OPENAI.cluster,
    'x-llm-plan': `${OPENAI.name} ${ANTHROPIC.name}`,
    'x-llm-hop-2': ANTHROPIC.cluster,
    'x-llm-stream': '1',
    'x-llm-tags': 'team-a',
  };
  const BODY = '{"model": "gpt-4o",  "messages": [{"role": "user", "content": "not for the router"}]}';

  it('reaches its backend with every header and byte as the client sent them, and the router is never asked', async () => {
    const streamsBefore = await routerStreams();
    expect(streamsBefore).toBeGreaterThan(0);
    const res = await fetchWithHost(APP_HOST)(`${stack.url}/v1/chat/completions?keep=1`, { method: 'POST', headers: CLIENT_HEADERS, body: BODY });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the app answered');
    expect(res.headers.get('x-llm-retry')).toBe('the-app-s-own');
    const seen = app.seen.at(-1)!;
    expect([seen.url, seen.body.toString('utf8')]).toEqual(['/v1/chat/completions?keep=1', BODY]);
    for (const [name, value] of Object.entries(CLIENT_HEADERS)) expect([name, seen.headers[name]]).toEqual([name, value]);
    expect(await routerStreams()).toBe(streamsBefore);
  });

  it("an app's error goes back as the app wrote it, and is not reported to the router", async () => {
    const streamsBefore = await routerStreams();
    const res = await fetchWithHost(APP_HOST)(`${stack.url}/status`, { headers: { 'x-app-status': '500' } });
    expect([res.status, await res.text()]).toEqual([500, 'the app answered']);
    expect(await routerStreams()).toBe(streamsBefore);
  });
});

describe('the shipped manifests', () => {
  const istioctl = (args: readonly string[]) => spawnSync(process.env.ISTIOCTL_BIN!, args, { encoding: 'utf8' });
  const manifests = readdirSync(ISTIO_MANIFESTS).filter((f) => f.endsWith('.yaml')).map((f) => join(ISTIO_MANIFESTS, f));

  it.each(manifests)('istioctl validate %s', (file) => {
    const r = istioctl(['validate', '-f', file]);
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/is valid|has warnings/);
    // istioctl gives every EnvoyFilter the same notice (its patches reach below Istio's API); no other warning passes.
    const warnings = out.split('\n').filter((line) => line.trim().startsWith('* '));
    expect(warnings.filter((w) => !w.includes('EnvoyFilter exposes internal implementation details'))).toEqual([]);
  });

  it('istioctl analyze finds nothing wrong across them, offline, but what the manifests say they accept', () => {
    const r = istioctl(['analyze', '--use-kube=false', '--all-namespaces', ...manifests]);
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    // IST0133: the notice every EnvoyFilter gets. IST0128: TLS to a provider without caCertificates,
    // which istiod checks against the proxy's system CAs. IST0151: a patch relative to another
    // filter (INSERT_BEFORE the router filter, which every gateway has) without a priority.
    const ACCEPTED = new Set(['IST0133', 'IST0128', 'IST0151']);
    const found = [...out.matchAll(/^(Error|Warning|Info) \[(IST\d+)\]/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(found.filter((f) => !(f.startsWith('Warning') && ACCEPTED.has(f.split(' ')[1]!))), out).toEqual([]);
  });
});

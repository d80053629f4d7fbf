/**
 * The router behind Envoy Gateway, configured with deploy/envoy-gateway/ as users apply it (only
 * addresses changed): Envoy Gateway built from source runs standalone and configures a real Envoy,
 * whose LLM routes the router serves through the official OpenAI SDK — a chat, a stream with
 * usage, a fallback hop after a 503 — while an app on the same Gateway passes untouched, and
 * check-envoy accepts the configuration Envoy Gateway generated.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEnvoyConfig } from '../../src/config/envoy-check.js';
import { configDumpAsStatic } from '../../src/config/envoy-dump.js';
import { loadConfig } from '../../src/config/load.js';
import { routeRuleCluster } from '../../src/devstack/envoy-gateway.js';
import { waitUntil } from '../../src/devstack/processes.js';
import { startApp } from '../support/app.js';
import { streamWithUsage } from '../support/clients.js';
import { envoyGateway, translateForKubernetes } from '../support/envoy-gateway.js';
import { startStack, type AccessLogEntry, type Stack } from '../support/stack.js';
import { recordWhere } from '../support/usage.js';

/** The clusters Envoy Gateway makes for deploy/envoy-gateway/10-deployments.yaml's routes, which router.yaml names. */
const CLUSTER = {
  mini: routeRuleCluster('llm-gateway', 'llm-openai-gpt-4o-mini', 0),
  gpt4o: routeRuleCluster('llm-gateway', 'llm-openai-gpt-4o', 0),
  claude: routeRuleCluster('llm-gateway', 'llm-anthropic-claude-sonnet', 0),
};
/** 20-router.yaml's ext_proc: Envoy Gateway's cluster for the router. */
const ROUTER_CLUSTER = 'envoyextensionpolicy/llm-gateway/llm-router/extproc/0';

const ROUTER_ENV = { OPENAI_KEY: 'sk-openai', ANTHROPIC_KEY: 'sk-ant' };

let stack: Stack;
let app: Awaited<ReturnType<typeof startApp>>;
let client: OpenAI;

beforeAll(async () => {
  app = await startApp();
  stack = await startStack({
    deployments: [
      { name: 'openai-gpt-4o-mini', cluster: CLUSTER.mini, group: 'gpt-4o-mini', providerModel: 'gpt-4o-mini-2024-07-18', apiKeyEnv: 'OPENAI_KEY' },
      { name: 'openai-gpt-4o', cluster: CLUSTER.gpt4o, group: 'gpt-4o', providerModel: 'gpt-4o-2024-08-06', apiKeyEnv: 'OPENAI_KEY' },
      { name: 'anthropic-claude-sonnet', cluster: CLUSTER.claude, group: 'claude-sonnet', providerModel: 'claude-sonnet-4-5', apiKeyEnv: 'ANTHROPIC_KEY', extra: { provider: 'anthropic' } },
    ],
    groups: { 'gpt-4o': { fallbacks: ['claude-sonnet'] } },
    routing: { decision_header: true },
    routerEnv: ROUTER_ENV,
    appPort: app.port,
    gateway: envoyGateway(),
  });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => app?.server.close(resolve));
});

/** Every ext_proc stream Envoy opened to the router (any of its filters, downstream or upstream). */
const routerStreams = async () => (await stack.stats(`^cluster\\.${ROUTER_CLUSTER.replaceAll('/', '\\/')}\\.upstream_rq_total$`))[`cluster.${ROUTER_CLUSTER}.upstream_rq_total`] ?? 0;

describe('the LLM routes of the Gateway', () => {
  it('a chat: routed by the router to the deployment, with its credential and model id, and billed', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content?.length).toBeGreaterThan(0);
    const seen = stack.lastSeen('openai-gpt-4o-mini');
    expect([seen.authorization, seen.model]).toEqual(['Bearer sk-openai', 'gpt-4o-mini-2024-07-18']);
    expect(await recordWhere(stack, (r) => r.requestedModel === 'gpt-4o-mini' && !r.stream)).toMatchObject({ deployment: 'openai-gpt-4o-mini', status: 200, promptTokens: completion.usage!.prompt_tokens });
    // The EnvoyProxy's access log: the deployment's cluster, Envoy's timing of the router's phases, the router's metadata.
    let entry: AccessLogEntry | undefined;
    await waitUntil(async () => (entry = (await stack.accessLog()).find((e) => e.path === '/v1/chat/completions')) !== undefined, 10_000, () => 'no access log line');
    expect(entry).toMatchObject({ status: 200, cluster: CLUSTER.mini, router_headers_us: expect.stringMatching(/^\d+$/), router_body_us: expect.stringMatching(/^\d+$/), deployment: 'openai-gpt-4o-mini', model: 'gpt-4o-mini' });
  });

  it('a stream with usage: the usage chunk reaches the client and the router records it', async () => {
    const { text, usage } = await streamWithUsage(client, 'gpt-4o-mini');
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(await recordWhere(stack, (r) => r.stream)).toMatchObject({ deployment: 'openai-gpt-4o-mini', complete: true, completionTokens: usage!.completion_tokens });
  });

  it("a 503 from the first deployment: Envoy's retry goes to the router's next hop, in its provider's format and credential", async () => {
    stack.mock('openai-gpt-4o').setBehaviour({ status: 503 });
    const res = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-llm-router-debug': '1' } })
      .withResponse();
    expect(res.data.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(res.response.headers.get('x-llm-router-decision')).toMatch(/; attempts=openai-gpt-4o:503,anthropic-claude-sonnet:200$/);
    expect(stack.lastSeen('openai-gpt-4o').authorization).toBe('Bearer sk-openai');
    const hop = stack.lastSeen('anthropic-claude-sonnet');
    expect([hop.path, hop.headers['x-api-key'], hop.authorization]).toEqual(['/v1/messages', 'sk-ant', null]);
    expect(await recordWhere(stack, (r) => r.requestedModel === 'gpt-4o')).toMatchObject({ deployment: 'anthropic-claude-sonnet', providerModel: 'claude-sonnet-4-5', status: 200 });
    // Envoy counts by cluster: the first deployment's 503 as retried, the hop's 200.
    const stats = await stack.stats('upstream_rq_(200|503)$');
    expect([stats[`cluster.${CLUSTER.gpt4o}.retry.upstream_rq_503`], stats[`cluster.${CLUSTER.claude}.upstream_rq_200`]]).toEqual([1, 1]);
  });
});

describe('an app on the same Gateway', () => {
  /**
   * What a client of the app sends: the gateway's own header names and a credential among them.
   * (Not x-request-id: Envoy Gateway's Envoy, an edge proxy, issues its own to every client.)
   */
  const CLIENT_HEADERS = {
    'content-type': 'application/json',
    authorization: 'Bearer the-app-s-session',
    'x-llm-plan': 'openai-gpt-4o anthropic-claude-sonnet',
    'x-llm-hop-2': CLUSTER.claude,
    'x-llm-stream': '1',
  };
  const BODY = '{"model": "gpt-4o",  "messages": [{"role": "user", "content": "not for the router"}]}';

  it('gets every header and byte as the client sent them, its answer as it wrote it, and the router is never asked', async () => {
    const streamsBefore = await routerStreams();
    const mockRequests = stack.mockRequests();
    const res = await fetch(`${stack.url}/app/chat?keep=1`, { method: 'POST', headers: CLIENT_HEADERS, body: BODY });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the app answered');
    expect(res.headers.get('x-llm-retry')).toBe('the-app-s-own');
    const seen = app.seen.at(-1)!;
    expect([seen.method, seen.url, seen.body.toString('utf8')]).toEqual(['POST', '/app/chat?keep=1', BODY]);
    for (const [name, value] of Object.entries(CLIENT_HEADERS)) expect([name, seen.headers[name]]).toEqual([name, value]);
    const added = Object.keys(seen.headers).filter((h) => !(h in CLIENT_HEADERS));
    expect(added.filter((h) => h.startsWith('x-llm-') || h.startsWith('x-envoy-attempt'))).toEqual([]);
    // An error of the app's is not retried, nor reported to the router.
    const failed = await fetch(`${stack.url}/status`, { headers: { 'x-app-status': '503' } });
    expect([failed.status, await failed.text()]).toEqual([503, 'the app answered']);
    expect(app.seen.at(-1)!.url).toBe('/status');
    expect(await routerStreams()).toBe(streamsBefore);
    expect(stack.mockRequests()).toBe(mockRequests);
  });
});

describe('check-envoy', () => {
  it('--admin accepts the Envoy configuration Envoy Gateway generated', () => {
    const env = { ...process.env, ...ROUTER_ENV, LLM_ROUTER_ADMIN_TOKEN: stack.adminToken };
    const r = spawnSync(process.execPath, ['dist/main.js', 'check-envoy', '-c', stack.routerConfigFiles[0]!, '--admin', stack.envoyAdmin], { encoding: 'utf8', env });
    expect([r.status, r.stdout]).toEqual([0, expect.stringMatching(/: fits .* \(3 deployments\): 0 errors, 3 warnings/)]);
    // What the manifests choose not to have: active health checks against SaaS APIs without a health endpoint.
    const warnings = r.stderr.split('\n').filter((l) => l !== '');
    expect(warnings).toEqual(Array(3).fill(expect.stringMatching(/ warning: no health_checks: /)));
  });
});

describe('the same manifests as Envoy Gateway takes them on Kubernetes (egctl x translate, offline)', () => {
  it('every object valid and accepted, and the xDS it would generate, patches applied, passes check-envoy', async () => {
    const { conditions, configDump } = await translateForKubernetes(await mkdtemp(join(tmpdir(), 'llm-router-egctl-')));
    expect(conditions.length).toBeGreaterThan(0);
    expect(conditions.filter((c) => c.status !== 'True')).toEqual([]);
    const config = await loadConfig(stack.routerConfigFiles[0]!, { ...process.env, ...ROUTER_ENV, LLM_ROUTER_ADMIN_TOKEN: stack.adminToken });
    const problems = checkEnvoyConfig(configDumpAsStatic(configDump), config);
    // The names the manifests use are Kubernetes' (the policy's kind in them), and every patch found its target.
    expect(problems.map((p) => `${p.level}: ${p.message}`)).toEqual(Array(3).fill(expect.stringMatching(/^warning: no health_checks: /)));
  });
});

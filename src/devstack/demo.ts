/**
 * `llm-router demo` (what `npm start` runs): the mock providers, the router and Envoy, with the
 * bundled example files as they are — examples/router.yaml, examples/mock-providers.yaml and
 * envoy/envoy.yaml — all on loopback. Works offline.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startMockProviders } from '../mock/server.js';
import { PROJECT_ROOT, resolveEnvoy } from './binaries.js';
import { routerCommand } from './runtime.js';
import { clustersHealthy, httpOk, spawnChild, waitUntil, type Child } from './processes.js';

const ROUTER_CONFIG = join(PROJECT_ROOT, 'examples', 'router.yaml');
const MOCK_CONFIG = join(PROJECT_ROOT, 'examples', 'mock-providers.yaml');
const ENVOY_CONFIG = join(PROJECT_ROOT, 'envoy', 'envoy.yaml');
const DEPLOYMENTS = ['openai-gpt-4o-mini', 'azure-gpt-4o-mini', 'openai-gpt-4o', 'anthropic-claude-sonnet'];
/** examples/router.yaml's Anthropic credential: any key serves the mock. */
const ANTHROPIC_KEY_ENV = 'ANTHROPIC_API_KEY';
/** examples/router.yaml's `server.admin.token_env`. */
const ADMIN_TOKEN_ENV = 'LLM_ROUTER_ADMIN_TOKEN';

const banner = (adminToken: string): string => `
envoy-llm-router demo is up.
  Envoy        http://127.0.0.1:10000   (admin http://127.0.0.1:9901)
  router       gRPC 127.0.0.1:50051, admin http://127.0.0.1:9090 (/readyz, /usage/log, /usage/totals)
               admin token ${adminToken} (${ADMIN_TOKEN_ENV})
  console      http://127.0.0.1:9090/console   (sign in with the admin token)
  providers    mock OpenAI and Azure OpenAI on 127.0.0.1:18081-18084, Anthropic on :18085 (/_mock/stats)

Try it (demo keys: sk-llmr-demo, sk-llmr-free, sk-llmr-premium):
  curl -s http://127.0.0.1:10000/v1/chat/completions -H 'authorization: Bearer sk-llmr-demo' \\
    -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
  curl -sN http://127.0.0.1:10000/v1/chat/completions -H 'authorization: Bearer sk-llmr-demo' \\
    -H 'content-type: application/json' -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello"}]}'
  curl -s http://127.0.0.1:10000/v1/chat/completions -H 'authorization: Bearer sk-llmr-demo' \\
    -H 'content-type: application/json' -d '{"model":"claude-sonnet","messages":[{"role":"user","content":"Say hello"}]}'
  curl -s http://127.0.0.1:10000/v1/embeddings -H 'authorization: Bearer sk-llmr-demo' \\
    -H 'content-type: application/json' -d '{"model":"text-embedding-3-small","input":"hello"}'
  curl -s 'http://127.0.0.1:9090/usage/log?limit=5' -H 'authorization: Bearer ${adminToken}'

Ctrl-C stops everything.
`;

export async function runDemo(): Promise<void> {
  const envoyBin = resolveEnvoy();
  // The one given, else a fresh one per run: a fixed demo token would be one any web page could send.
  const adminToken = process.env[ADMIN_TOKEN_ENV] || randomBytes(16).toString('hex');
  const mocks = await startMockProviders(MOCK_CONFIG);
  const children: Child[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
    await Promise.all(mocks.map((m) => m.close()));
  };
  try {
    const env = { ...process.env, [ADMIN_TOKEN_ENV]: adminToken, [ANTHROPIC_KEY_ENV]: process.env[ANTHROPIC_KEY_ENV] || 'sk-ant-demo' };
    const run = routerCommand(join(PROJECT_ROOT, 'dist', 'main.js'), ['serve', '-c', ROUTER_CONFIG], { env });
    const router = spawnChild('router', run.command, run.args, { echo: true, env: run.env });
    children.push(router);
    await waitUntil(() => httpOk('http://127.0.0.1:9090/readyz'), 15_000, () => `router not ready:\n${router.output()}`, router);
    const envoy = spawnChild('envoy', envoyBin, ['-c', ENVOY_CONFIG, '--log-level', 'warn', '--disable-hot-restart'], { echo: true });
    children.push(envoy);
    await waitUntil(() => httpOk('http://127.0.0.1:9901/ready'), 30_000, () => `Envoy not ready:\n${envoy.output()}`, envoy);
    await waitUntil(() => clustersHealthy('http://127.0.0.1:9901', DEPLOYMENTS), 30_000, () => 'deployment clusters not healthy');
  } catch (err) {
    await stopAll();
    throw err;
  }
  process.stdout.write(banner(adminToken));
  const stop = (): void => void stopAll().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

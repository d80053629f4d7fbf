/**
 * Peer gateways on the same harness, mock and machine, each set up for the same single-deployment
 * route: Portkey's open-source gateway (npm), the LiteLLM proxy (PyPI) and Envoy AI Gateway's external
 * processor (Go, `ai-gateway.ts`). Installed on first use into bench/.tools/ (never committed). A peer that cannot be installed or started is reported as
 * not measured, with the reason; the run goes on.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';
import { freePort } from '../../src/devstack/ports.js';
import { httpOk, spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import type { Endpoint } from '../load.js';
import { startAiGateway } from './ai-gateway.js';
import { install, TOOLS } from './tools.js';

export const PORTKEY_VERSION = '1.15.2';
/** The newest release whose dependencies the PyPI mirror here serves (1.109 needs a newer certifi). */
export const LITELLM_VERSION = '1.80.0';

export type PeerName = 'portkey' | 'litellm' | 'ai-gateway';

/** A started peer: where to send requests, its gateway process and, for an ext_proc peer, its own Envoy. */
export type Peer = { readonly name: PeerName; readonly endpoint: Endpoint; readonly child: Child; readonly envoy?: Child } | { readonly name: PeerName; readonly error: string };

async function startPortkey(dir: string, models: readonly string[], mockPort: number): Promise<Peer> {
  const entry = join(TOOLS, 'portkey', 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const failed = install('Portkey gateway', entry, 'npm', ['install', '--prefix', join(TOOLS, 'portkey'), '--no-audit', '--no-fund', `@portkey-ai/gateway@${PORTKEY_VERSION}`]);
  if (failed !== null) return { name: 'portkey', error: failed };
  const port = await freePort();
  const child = spawnChild('portkey', process.execPath, ['--import', join(PROJECT_ROOT, 'bench', 'peers', 'loopback.mjs'), entry, `--port=${port}`, '--headless'], {
    logFile: join(dir, 'portkey.log'),
    env: { ...process.env, NODE_ENV: 'production' },
  });
  // Portkey routes by request headers: provider and the provider's base URL.
  const headers = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${mockPort}/v1`, authorization: 'Bearer bench' };
  const probe = () => fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ model: models[0], messages: [{ role: 'user', content: 'hi' }] }) }).then(async (r) => (await r.arrayBuffer(), r.ok));
  try {
    await waitUntil(probe, 30_000, () => child.output(), child);
  } catch (err) {
    await child.stop();
    return { name: 'portkey', error: (err as Error).message.slice(0, 300) };
  }
  return { name: 'portkey', endpoint: { port, headers }, child };
}

async function startLiteLLM(dir: string, models: readonly string[], mockPort: number): Promise<Peer> {
  const target = join(TOOLS, 'litellm');
  const python = process.env.PYTHON ?? 'python3';
  const failed = install('LiteLLM proxy', join(target, 'litellm', 'proxy', 'proxy_cli.py'), python, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--target', target, `litellm[proxy]==${LITELLM_VERSION}`]);
  if (failed !== null) return { name: 'litellm', error: failed };
  const port = await freePort();
  const config = join(dir, 'litellm.yaml');
  await writeFile(config, stringify({ model_list: models.map((model) => ({ model_name: model, litellm_params: { model: `openai/${model}`, api_base: `http://127.0.0.1:${mockPort}/v1`, api_key: 'bench' } })) }));
  const child = spawnChild('litellm', python, ['-m', 'litellm.proxy.proxy_cli', '--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'], {
    logFile: join(dir, 'litellm.log'),
    env: { ...process.env, PYTHONPATH: target, LITELLM_LOG: 'ERROR', LITELLM_TELEMETRY: 'False', NO_DOCS: 'True' },
  });
  try {
    await waitUntil(() => httpOk(`http://127.0.0.1:${port}/health/liveliness`), 120_000, () => child.output(), child);
  } catch (err) {
    await child.stop();
    return { name: 'litellm', error: (err as Error).message.slice(0, 300) };
  }
  return { name: 'litellm', endpoint: { port, headers: { authorization: 'Bearer bench' } }, child };
}

const STARTERS: Record<PeerName, (dir: string, models: readonly string[], mockPort: number) => Promise<Peer>> = {
  portkey: startPortkey,
  litellm: startLiteLLM,
  'ai-gateway': startAiGateway,
};
export const PEER_NAMES = Object.keys(STARTERS) as PeerName[];

export async function startPeers(dir: string, names: readonly PeerName[], models: readonly string[], mockPort: number): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const name of names) peers.push(await STARTERS[name](dir, models, mockPort));
  return peers;
}

/**
 * Envoy Gateway as the stack's gateway: `envoy-gateway server` standalone (file provider, host
 * infrastructure) configured with deploy/envoy-gateway/ rendered for the stack's addresses
 * (devstack/envoy-gateway.ts), running the project's Envoy binary at the release the manifests'
 * EnvoyProxy names. Envoy Gateway opens fixed ports on 0.0.0.0 (xDS 18000, its file provider's
 * health 8081, wasm cache 18002) and so does its Envoy (readiness 19003): the gateway suite runs in
 * a private network namespace (scripts/test-gateways.mjs), one Envoy Gateway at a time.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT, resolveEnvoy } from '../../src/devstack/binaries.js';
import { renderEnvoyGatewayManifests } from '../../src/devstack/envoy-gateway.js';
import { freePort } from '../../src/devstack/ports.js';
import { spawnChild, waitUntil } from '../../src/devstack/processes.js';
import type { GatewayLauncher } from './stack.js';

export const MANIFESTS = join(PROJECT_ROOT, 'deploy', 'envoy-gateway');

/** The manifests users apply, in the order they apply them (kubectl apply -f deploy/envoy-gateway/). */
export async function readManifests(): Promise<string> {
  const files = (await readdir(MANIFESTS)).filter((f) => f.endsWith('.yaml')).sort();
  return (await Promise.all(files.map((f) => readFile(join(MANIFESTS, f), 'utf8')))).join('\n---\n');
}

function gatewayBinary(): string {
  const bin = process.env.ENVOY_GATEWAY_BIN;
  if (bin === undefined || bin === '') throw new Error('ENVOY_GATEWAY_BIN is not set: run the suite with `npm run test:gateways`, which builds Envoy Gateway');
  return bin;
}

/** Envoy Gateway's own configuration: standalone, resources from `resources`, Envoy as a host process under `home`. */
function gatewayConfig(resources: string, home: string): string {
  return stringify({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyGateway',
    gateway: { controllerName: 'gateway.envoyproxy.io/gatewayclass-controller' },
    provider: {
      type: 'Custom',
      custom: {
        resource: { type: 'File', file: { paths: [resources] } },
        infrastructure: {
          type: 'Host',
          host: { configHome: join(home, 'config'), dataHome: join(home, 'data'), stateHome: join(home, 'state'), runtimeDir: join(home, 'run') },
        },
      },
    },
    logging: { level: { default: 'info' } },
    // What deploy/envoy-gateway/00-gateway.yaml asks of the Envoy Gateway it runs under.
    extensionApis: { enableBackend: true, enableEnvoyPatchPolicy: true },
    telemetry: { metrics: { prometheus: { disable: true } } },
  });
}

/** The Envoy admin address the host infrastructure wrote (a random loopback port), once it has. */
async function adminAddress(runtimeDir: string): Promise<string | undefined> {
  if (!existsSync(runtimeDir)) return undefined;
  for (const run of await readdir(runtimeDir)) {
    const file = join(runtimeDir, run, 'admin-address.txt');
    if (existsSync(file)) {
      const address = (await readFile(file, 'utf8')).trim();
      if (address !== '') return address;
    }
  }
  return undefined;
}

export function envoyGateway(): GatewayLauncher {
  return {
    async start({ dir, routerPorts, hostPorts, options }) {
      const gatewayBin = gatewayBinary();
      const home = join(dir, 'envoy-gateway');
      const resources = join(home, 'resources');
      const accessLogFile = join(dir, 'envoy-access.log');
      const listener = await freePort();
      const rendered = renderEnvoyGatewayManifests(await readManifests(), {
        listener,
        router: routerPorts,
        deployments: hostPorts,
        app: options.appPort ?? (await freePort()),
        accessLog: accessLogFile,
      });
      await mkdir(resources, { recursive: true });
      await writeFile(join(resources, 'llm.yaml'), rendered.resources);
      const configFile = join(home, 'envoy-gateway.yaml');
      await writeFile(configFile, gatewayConfig(resources, home));
      // The host infrastructure runs <dataHome>/envoy-versions/<release>/bin/envoy, downloading it
      // when absent: the project's Envoy is put there instead.
      const envoyDir = join(home, 'data', 'envoy-versions', rendered.envoyVersion, 'bin');
      await mkdir(envoyDir, { recursive: true });
      await symlink(resolveEnvoy(), join(envoyDir, 'envoy'));
      // Envoy Gateway also writes under $HOME (a wasm cache): keep that in the stack's folder.
      const env = { ...process.env, HOME: home };
      const certgen = spawnChild('envoy-gateway certgen', gatewayBin, ['certgen', '--local', '--config-home', join(home, 'config')], { logFile: join(dir, 'certgen.log'), env });
      await new Promise((resolve) => certgen.process.once('exit', resolve));
      if (certgen.process.exitCode !== 0) throw new Error(`envoy-gateway certgen failed:\n${certgen.output()}`);
      const gateway = spawnChild('envoy-gateway', gatewayBin, ['server', '--config-path', configFile], { logFile: join(dir, 'envoy-gateway.log'), env });
      try {
        let admin: string | undefined;
        await waitUntil(async () => (admin = await adminAddress(join(home, 'run'))) !== undefined, 60_000, () => `Envoy Gateway started no Envoy:\n${gateway.output()}`, gateway);
        const envoyAdmin = `http://${admin!}`;
        // The Gateway's listener is there once Envoy took Envoy Gateway's first configuration.
        const listening = async (): Promise<boolean> => (await (await fetch(`${envoyAdmin}/listeners`)).text()).includes(`:${listener}`);
        await waitUntil(listening, 60_000, () => `Envoy never opened the Gateway's listener:\n${gateway.output()}`, gateway);
        const url = `http://127.0.0.1:${listener}`;
        return { url, envoyAdmin, envoy: gateway, accessLogFile, fileProblems: [], stop: () => gateway.stop() };
      } catch (err) {
        await gateway.stop();
        throw err;
      }
    },
  };
}

/**
 * Envoy Gateway as the stack's gateway: `envoy-gateway server` standalone (file provider, host
 * infrastructure) configured with deploy/envoy-gateway/ rendered for the stack's addresses
 * (devstack/envoy-gateway.ts), running the project's Envoy binary at the release the manifests'
 * EnvoyProxy names. Envoy Gateway opens fixed ports on 0.0.0.0 (xDS 18000, its file provider's
 * health 8081, wasm cache 18002) and so does its Envoy (readiness 19003): the gateway suite runs in
 * a private network namespace (scripts/test-gateways.mjs), one Envoy Gateway at a time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
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

/** A binary scripts/gateways/envoy-gateway.mjs built, by the variable it set. */
function built(variable: 'ENVOY_GATEWAY_BIN' | 'EGCTL_BIN'): string {
  const bin = process.env[variable];
  if (bin === undefined || bin === '') throw new Error(`${variable} is not set: run the suite with \`npm run test:gateways\`, which builds Envoy Gateway`);
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
      const gatewayBin = built('ENVOY_GATEWAY_BIN');
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

/** What a cluster has besides deploy/envoy-gateway/: the router's Service (the Helm chart's, values-envoy-gateway.yaml) and the app's. */
const CLUSTER_SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: llm-router, namespace: llm-router}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: grpc, port: 50051, targetPort: grpc, protocol: TCP, appProtocol: kubernetes.io/h2c}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: llm-gateway}
spec:
  clusterIP: 10.96.0.11
  ports: [{name: http, port: 8080, targetPort: 8080, protocol: TCP}]
`;

export interface Condition {
  readonly object: string;
  readonly type: string;
  readonly status: string;
  readonly message: string;
}

/** Every status condition in `value` (egctl's resources by kind), with the object it is about. */
function conditionsOf(value: unknown, object = ''): Condition[] {
  if (Array.isArray(value)) return value.flatMap((v) => conditionsOf(v, object));
  if (value === null || typeof value !== 'object') return [];
  const o = value as Record<string, unknown>;
  const metadata = o.metadata as { name?: string; namespace?: string } | undefined;
  const here = typeof o.kind === 'string' && metadata?.name !== undefined ? `${o.kind} ${metadata.namespace ?? ''}/${metadata.name}` : object;
  const own = Array.isArray(o.conditions) ? (o.conditions as Condition[]).map((c) => ({ object: here, type: c.type, status: c.status, message: c.message })) : [];
  return [...own, ...Object.entries(o).flatMap(([k, v]) => (k === 'conditions' ? [] : conditionsOf(v, here)))];
}

/** protojson's field names (lowerCamelCase) as the proto's own, which a config dump and check-envoy use; map keys (with '.', '/', '-') stay. */
function protoNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(protoNames);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [/^[a-z][a-zA-Z0-9]*$/.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k, protoNames(v)]));
}

/**
 * deploy/envoy-gateway/ as Envoy Gateway takes it on Kubernetes, offline (`egctl x translate`):
 * each object validated against the CRD schemas, the status conditions it would get, and the xDS
 * (a config dump) it would send the Gateway's Envoy, patches applied.
 */
export async function translateForKubernetes(dir: string): Promise<{ conditions: Condition[]; configDump: unknown }> {
  const file = join(dir, 'kubernetes.yaml');
  await writeFile(file, `${await readManifests()}\n---\n${CLUSTER_SERVICES}`);
  const egctl = (to: string): string => {
    const r = spawnSync(built('EGCTL_BIN'), ['x', 'translate', '--from', 'gateway-api', '--to', to, '-t', 'all', '-o', 'yaml', '-f', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`egctl x translate --to ${to}: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };
  const xds = parse(egctl('xds'), { maxAliasCount: -1 }) as { xds: Record<string, unknown> };
  const [configDump, ...more] = Object.values(xds.xds);
  if (configDump === undefined || more.length > 0) throw new Error(`egctl: expected the xDS of one Gateway, got ${Object.keys(xds.xds).join(', ') || 'none'}`);
  return { conditions: conditionsOf(parse(egctl('gateway-api'))), configDump: protoNames(configDump) };
}

/**
 * The Istio ingress gateway without Kubernetes: istiod (pilot-discovery, ISTIOD_BIN) reads the
 * shipped deploy/istio/ manifests from files and serves them over xDS to a stock Envoy (ENVOY_BIN)
 * that presents itself as an `istio: ingressgateway` pod. The manifests are rendered for the test,
 * not copied: the gateway's port, the providers' endpoints (loopback mocks, no TLS) and a
 * ServiceEntry standing in for the router's Kubernetes Service.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { PROJECT_ROOT, resolveEnvoy } from '../../../src/devstack/binaries.js';
import { freePort } from '../../../src/devstack/ports.js';
import { spawnChild, waitUntil, type Child } from '../../../src/devstack/processes.js';
import type { GatewayLauncher } from '../../support/stack.js';

export const ISTIO_MANIFESTS = join(PROJECT_ROOT, 'deploy', 'istio');
/** istiod's ports cannot all be moved off their defaults; the suite runs in a private network namespace. */
const XDS_PORT = 15010;
const ISTIOD_HTTP = 'http://127.0.0.1:8080';

// A manifest's spec is free-form YAML here: `any` for reaching into it.
type Resource = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, any> };

interface IstioPorts {
  /** The Gateway's server port: Envoy's listener. */
  readonly listener: number;
  readonly admin: number;
  /** The router replicas' gRPC ports, behind its Service's one cluster. */
  readonly routers: readonly number[];
}

/** Every resource of every manifest under deploy/istio, in file order. */
async function readIstioManifests(): Promise<Resource[]> {
  const files = (await readdir(ISTIO_MANIFESTS)).filter((f) => f.endsWith('.yaml')).sort();
  const out: Resource[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(ISTIO_MANIFESTS, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const resource = doc.toJS({ maxAliasCount: -1 }) as Resource | null;
      if (resource !== null) out.push(resource);
    }
  }
  return out;
}

/** `outbound|<port>||<host>`: the cluster istiod makes for a service's port. */
const outbound = (host: string, port: number): string => `outbound|${port}||${host}`;

/**
 * The manifests for a loopback test: the Gateway (and the EnvoyFilters' listener matches on its
 * port) on `ports.listener`; each provider ServiceEntry whose cluster has mock hosts in
 * `hostPorts` resolved to them (STATIC), and its DestinationRule without TLS (the mocks speak plain
 * HTTP); and the router's Service, which Kubernetes would provide, as a ServiceEntry on the router
 * replicas' ports.
 */
function renderForTest(resources: readonly Resource[], ports: IstioPorts, hostPorts: Readonly<Record<string, readonly number[]>>): Resource[] {
  const out = structuredClone(resources) as Resource[];
  const mocked = new Set<string>();
  const gatewayPorts = new Set(out.filter((r) => r.kind === 'Gateway').flatMap((r) => r.spec.servers.map((s: { port: { number: number } }) => s.port.number)));
  for (const r of out) {
    if (r.kind === 'Gateway') for (const server of r.spec.servers) server.port.number = ports.listener;
    // An EnvoyFilter's listener match names the Gateway's port.
    if (r.kind === 'EnvoyFilter') {
      for (const patch of r.spec.configPatches) {
        const listener = patch.match?.listener;
        if (gatewayPorts.has(listener?.portNumber)) listener.portNumber = ports.listener;
      }
    }
    if (r.kind !== 'ServiceEntry') continue;
    for (const host of r.spec.hosts as string[]) {
      for (const port of r.spec.ports as Array<{ number: number; name: string }>) {
        const mocks = hostPorts[outbound(host, port.number)];
        if (mocks === undefined) continue;
        mocked.add(host);
        r.spec.resolution = 'STATIC';
        r.spec.endpoints = mocks.map((p) => ({ address: '127.0.0.1', ports: { [port.name]: p } }));
      }
    }
  }
  for (const r of out) if (r.kind === 'DestinationRule' && mocked.has(r.spec.host)) delete r.spec.trafficPolicy.tls;
  const routerCluster = routerServiceCluster(out);
  const [, port, , host] = routerCluster.split('|');
  out.push({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'llm-router-service', namespace: host!.split('.')[1] },
    spec: {
      hosts: [host],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: Number(port), name: 'grpc', protocol: 'GRPC' }],
      endpoints: ports.routers.map((p) => ({ address: '127.0.0.1', ports: { grpc: p } })),
    },
  });
  return out;
}

/** The router's cluster as the EnvoyFilters name it (the ext_proc filter's gRPC cluster). */
function routerServiceCluster(resources: readonly Resource[]): string {
  const text = JSON.stringify(resources.filter((r) => r.kind === 'EnvoyFilter'));
  const m = /"cluster_name":"(outbound\|\d+\|\|[^"]+)"/.exec(text);
  if (m === null) throw new Error('no EnvoyFilter names the router\'s cluster (an ext_proc grpc_service)');
  return m[1]!;
}

/** The host of an app that shares the gateway (the stack's `appPort`): another team's Gateway and VirtualService. */
export const APP_HOST = 'app.example.com';

/** The app's own Istio resources on the gateway's port, as its team would write them: nothing of the router's. */
function appResources(listener: number, appPort: number): Resource[] {
  const meta = { name: 'app', namespace: 'app' };
  const networking = 'networking.istio.io/v1';
  return [
    { apiVersion: networking, kind: 'Gateway', metadata: meta, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: listener, name: 'http-app', protocol: 'HTTP' }, hosts: [APP_HOST] }] } },
    {
      apiVersion: networking,
      kind: 'ServiceEntry',
      metadata: meta,
      spec: { hosts: ['app.app.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '127.0.0.1', ports: { http: appPort } }] },
    },
    { apiVersion: networking, kind: 'VirtualService', metadata: meta, spec: { hosts: [APP_HOST], gateways: ['app/app'], http: [{ route: [{ destination: { host: 'app.app.svc.cluster.local', port: { number: 8080 } } }] }] } },
  ];
}

/** Envoy's bootstrap: the node an `istio: ingressgateway` pod's pilot-agent would announce, and ADS from istiod. */
function bootstrap(admin: number): Record<string, unknown> {
  const labels = { istio: 'ingressgateway', app: 'istio-ingressgateway' };
  return {
    node: {
      id: 'router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local',
      cluster: 'istio-ingressgateway.istio-system',
      metadata: {
        NAMESPACE: 'istio-system',
        CLUSTER_ID: 'Kubernetes',
        NAME: 'istio-ingressgateway',
        WORKLOAD_NAME: 'istio-ingressgateway',
        SERVICE_ACCOUNT: 'istio-ingressgateway-service-account',
        ISTIO_VERSION: '1.31.0',
        MESH_ID: 'cluster.local',
        INSTANCE_IPS: '127.0.0.1',
        LABELS: labels,
        // Without a Kubernetes pod to look up, istiod replaces LABELS; STATIC_LABELS are kept, and
        // the EnvoyFilters' and Gateway's selectors match them.
        STATIC_LABELS: labels,
        PROXY_CONFIG: { discoveryAddress: `127.0.0.1:${XDS_PORT}`, controlPlaneAuthPolicy: 'NONE' },
      },
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: admin } } },
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'xds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: XDS_PORT } } } }] }] },
        },
      ],
    },
  };
}

/** istiod's view of each proxy: every type it sent has been acknowledged (plaintext xDS has no other readiness signal without Kubernetes). */
async function proxySynced(): Promise<boolean> {
  const proxies = (await (await fetch(`${ISTIOD_HTTP}/debug/syncz`)).json()) as Array<Record<string, string>>;
  return (
    proxies.length > 0 &&
    proxies.every((p) => ['cluster', 'listener', 'route'].every((t) => p[`${t}_sent`] !== undefined && p[`${t}_sent`] !== '' && p[`${t}_sent`] === p[`${t}_acked`]))
  );
}

/**
 * The stack's gateway (test/support/stack.ts): istiod on the rendered manifests and Envoy as the
 * ingress gateway, ready once Envoy has acknowledged istiod's listeners, routes and clusters.
 */
export async function istioGateway(): Promise<GatewayLauncher> {
  const istiodBin = process.env.ISTIOD_BIN;
  if (!istiodBin) throw new Error('ISTIOD_BIN is not set: run this suite with `npm run test:gateways` (scripts/gateways/istio.mjs builds istiod)');
  const [listener, admin] = [await freePort(), await freePort()];
  const adminUrl = `http://127.0.0.1:${admin}`;
  return {
    adminUrl,
    async start({ dir, routerPorts, hostPorts, options }) {
      const ports = { listener, admin, routers: routerPorts };
      const configDir = join(dir, 'istio-config');
      await mkdir(configDir, { recursive: true });
      const resources = [
        ...renderForTest(await readIstioManifests(), ports, hostPorts),
        ...(options.appPort === undefined ? [] : appResources(listener, options.appPort)),
      ];
      await writeFile(join(configDir, 'llm-router.yaml'), resources.map((r) => stringify(r, { aliasDuplicateObjects: false })).join('---\n'));
      const accessLogFile = join(dir, 'access.log');
      const mesh = {
        configSources: [{ address: `fs://${configDir}` }],
        defaultConfig: { discoveryAddress: `127.0.0.1:${XDS_PORT}`, controlPlaneAuthPolicy: 'NONE' },
        enableAutoMtls: false,
        rootNamespace: 'istio-system',
        trustDomain: 'cluster.local',
        accessLogFile,
      };
      await writeFile(join(dir, 'mesh.yaml'), stringify(mesh));
      await writeFile(join(dir, 'meshNetworks.yaml'), 'networks: {}\n');
      await writeFile(join(dir, 'bootstrap.yaml'), stringify(bootstrap(admin)));
      const children: Child[] = [];
      const stop = async (): Promise<void> => {
        for (const c of [...children].reverse()) await c.stop();
      };
      try {
        const istiod = spawnChild(
          'istiod',
          istiodBin,
          [
            'discovery',
            // No Kubernetes: no service registry but the ServiceEntries, config from the files above.
            '--registries=',
            `--meshConfig=${join(dir, 'mesh.yaml')}`,
            `--networksConfig=${join(dir, 'meshNetworks.yaml')}`,
            '--clusterID=Kubernetes',
            '--domain=cluster.local',
            `--grpcAddr=127.0.0.1:${XDS_PORT}`,
            '--secureGRPCAddr=127.0.0.1:15012',
            '--httpAddr=127.0.0.1:8080',
            '--monitoringAddr=127.0.0.1:15014',
            '--httpsAddr=127.0.0.1:15017',
          ],
          {
            logFile: join(dir, 'istiod.log'),
            env: {
              ...process.env,
              POD_NAMESPACE: 'istio-system',
              POD_NAME: 'istiod-0',
              REVISION: 'default',
              // Istio's own proxy filters, which a stock Envoy does not have.
              PILOT_ENABLE_METADATA_EXCHANGE: 'false',
              PILOT_ENABLE_ALPN_FILTER: 'false',
            },
          },
        );
        children.push(istiod);
        const loaded = async (): Promise<boolean> => {
          const text = await (await fetch(`${ISTIOD_HTTP}/debug/configz`)).text();
          return resources.every((r) => text.includes(`"name":"${r.metadata.name}"`));
        };
        await waitUntil(loaded, 60_000, () => `istiod did not load deploy/istio:\n${istiod.output()}`, istiod);
        const envoy = spawnChild('envoy', resolveEnvoy(), ['-c', join(dir, 'bootstrap.yaml'), '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'], {
          logFile: join(dir, 'envoy.log'),
        });
        children.push(envoy);
        await waitUntil(proxySynced, 60_000, () => `Envoy did not acknowledge istiod's config:\n${envoy.output()}\n${istiod.output()}`, envoy);
        return { url: `http://127.0.0.1:${listener}`, envoyAdmin: adminUrl, envoy, accessLogFile, fileProblems: [], stop };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

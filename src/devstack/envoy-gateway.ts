/**
 * Renders deploy/envoy-gateway/ for Envoy Gateway's standalone mode (file provider, host
 * infrastructure) on one machine: the gateway suite runs the manifests users apply with only
 * addresses changed. Every Backend, and the router's and the app's Services, become Backends on
 * loopback ports; each deployment route gets a Backend of its own (its mock hosts); the Gateway's
 * Envoy runs as a host process at the version its EnvoyProxy image names.
 */
import { parseAllDocuments, stringify } from 'yaml';

export interface EnvoyGatewayAddresses {
  /** The Gateway listener's port. */
  readonly listener: number;
  /** Each router replica's gRPC port. */
  readonly router: readonly number[];
  /** Mock hosts' ports by the cluster name Envoy Gateway gives a deployment route's rule. */
  readonly deployments: Readonly<Record<string, readonly number[]>>;
  /** The app behind the non-LLM route. */
  readonly app: number;
  /** Where Envoy writes the access log the EnvoyProxy defines. */
  readonly accessLog: string;
}

export interface RenderedEnvoyGateway {
  /** The resources, as one multi-document YAML file for the file provider. */
  readonly resources: string;
  /** The Envoy release the EnvoyProxy's image names (e.g. "1.40.0"), which the host infrastructure runs. */
  readonly envoyVersion: string;
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec: Record<string, unknown> };
interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}
interface Rule {
  backendRefs?: BackendRef[];
}

/** Envoy Gateway's name for the cluster of rule `index` of an HTTPRoute (its IR's route destination name). */
export const routeRuleCluster = (namespace: string, route: string, index: number): string => `httproute/${namespace}/${route}/rule/${index}`;

const loopback = (ports: readonly number[]) => ports.map((port) => ({ ip: { address: '127.0.0.1', port } }));

const backend = (name: string, namespace: string, ports: readonly number[]): Doc => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'Backend',
  metadata: { name, namespace },
  spec: { endpoints: loopback(ports) },
});

/**
 * Envoy Gateway v1.9.1 standalone leaves the policy's kind out of the names it derives from a
 * policy (file resources reach its translator without type metadata): the ext_proc filter and
 * cluster are `…ext_proc//<ns>/<policy>/extproc/0` where on Kubernetes they are
 * `…ext_proc/envoyextensionpolicy/<ns>/<policy>/extproc/0`, as the manifests name them.
 */
const standaloneNames = (spec: Record<string, unknown>): Record<string, unknown> =>
  JSON.parse(JSON.stringify(spec).replaceAll('envoyextensionpolicy/', '/')) as Record<string, unknown>;

const backendRef = (name: string): BackendRef => ({ group: 'gateway.envoyproxy.io', kind: 'Backend', name });

export function renderEnvoyGatewayManifests(manifests: string, at: EnvoyGatewayAddresses): RenderedEnvoyGateway {
  const docs = parseAllDocuments(manifests).map((d) => {
    if (d.errors.length > 0) throw new Error(`deploy/envoy-gateway: ${d.errors[0]!.message}`);
    return d.toJS({ maxAliasCount: -1 }) as Doc | null;
  });
  const out: Doc[] = [];
  let envoyVersion: string | undefined;
  const added: Doc[] = [];
  const deploymentBackends = new Map<string, string>();
  for (const doc of docs) {
    if (doc === null) continue;
    const ns = doc.metadata.namespace ?? 'default';
    switch (doc.kind) {
      // Kubernetes' own objects: the file provider has no use for them.
      case 'Namespace':
      case 'ReferenceGrant':
        continue;
      // Backends for the providers: replaced by one per deployment route, on its mock hosts.
      case 'Backend':
        continue;
      case 'EnvoyProxy': {
        const provider = doc.spec.provider as { kubernetes?: { envoyDeployment?: { container?: { image?: string } } } };
        const image = provider.kubernetes?.envoyDeployment?.container?.image ?? '';
        envoyVersion = /:(?:distroless-)?v(\d+\.\d+\.\d+)$/.exec(image)?.[1];
        if (envoyVersion === undefined) throw new Error(`EnvoyProxy ${doc.metadata.name}: no Envoy release in its image "${image}"`);
        doc.spec.provider = { type: 'Host', host: { envoyVersion } };
        doc.spec = standaloneNames(doc.spec);
        const telemetry = doc.spec.telemetry as { accessLog?: { settings?: Array<{ sinks?: Array<{ type: string; file?: { path: string } }> }> } } | undefined;
        for (const setting of telemetry?.accessLog?.settings ?? []) for (const sink of setting.sinks ?? []) if (sink.type === 'File') sink.file = { path: at.accessLog };
        break;
      }
      case 'Gateway':
        for (const listener of doc.spec.listeners as Array<{ port: number }>) listener.port = at.listener;
        break;
      case 'HTTPRoute':
        (doc.spec.rules as Rule[]).forEach((rule, i) => {
          const cluster = routeRuleCluster(ns, doc.metadata.name, i);
          const ports = at.deployments[cluster];
          const services = (rule.backendRefs ?? []).filter((r) => r.kind === 'Service');
          if (ports !== undefined) {
            added.push(backend(doc.metadata.name, ns, ports));
            deploymentBackends.set(ns, doc.metadata.name);
            rule.backendRefs = [backendRef(doc.metadata.name)];
          } else if (services.length > 0) {
            // The app's Service.
            const name = `${doc.metadata.name}-${i}`;
            added.push(backend(name, ns, [at.app]));
            rule.backendRefs = [backendRef(name)];
          }
        });
        break;
      case 'EnvoyPatchPolicy':
        doc.spec = standaloneNames(doc.spec);
        break;
      case 'EnvoyExtensionPolicy':
        // The router's Service.
        added.push(backend('llm-router', ns, at.router));
        for (const extProc of (doc.spec.extProc ?? []) as Array<{ backendRefs: BackendRef[] }>) extProc.backendRefs = [backendRef('llm-router')];
        break;
    }
    out.push(doc);
  }
  if (envoyVersion === undefined) throw new Error('deploy/envoy-gateway: no EnvoyProxy names the Envoy release');
  // A route that referred to a provider's Backend and is no deployment's (where LLM requests enter)
  // names a deployment's instead: its backend is never called, but must exist.
  for (const doc of out) {
    if (doc.kind !== 'HTTPRoute') continue;
    const ns = doc.metadata.namespace ?? 'default';
    for (const rule of doc.spec.rules as Rule[]) {
      if ((rule.backendRefs ?? []).some((r) => r.kind === 'Backend' && !added.some((b) => b.metadata.name === r.name && b.metadata.namespace === ns))) {
        const stand = deploymentBackends.get(ns);
        if (stand === undefined) throw new Error(`HTTPRoute ${doc.metadata.name}: no deployment route in namespace ${ns} to stand in for its backend`);
        rule.backendRefs = [backendRef(stand)];
      }
    }
  }
  return { resources: [...out, ...added].map((d) => stringify(d)).join('---\n'), envoyVersion };
}

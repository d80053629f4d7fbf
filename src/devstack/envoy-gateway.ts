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

/** The EnvoyProxy as a host process at the Envoy release its image names, logging to `accessLog`; returns that release. */
function hostEnvoyProxy(doc: Doc, accessLog: string): string {
  const provider = doc.spec.provider as { kubernetes?: { envoyDeployment?: { container?: { image?: string } } } };
  const image = provider.kubernetes?.envoyDeployment?.container?.image ?? '';
  const version = /:(?:distroless-)?v(\d+\.\d+\.\d+)$/.exec(image)?.[1];
  if (version === undefined) throw new Error(`EnvoyProxy ${doc.metadata.name}: no Envoy release in its image "${image}"`);
  doc.spec = standaloneNames(doc.spec);
  doc.spec.provider = { type: 'Host', host: { envoyVersion: version } };
  const telemetry = doc.spec.telemetry as { accessLog?: { settings?: Array<{ sinks?: Array<{ type: string; file?: { path: string } }> }> } } | undefined;
  for (const setting of telemetry?.accessLog?.settings ?? []) for (const sink of setting.sinks ?? []) if (sink.type === 'File') sink.file = { path: accessLog };
  return version;
}

/**
 * Each rule of an HTTPRoute on loopback Backends: a deployment's on its mock hosts (a Backend named
 * after the route), a Service's (the app's) on the app's port. Returns the Backends it adds.
 */
function routeOnLoopback(doc: Doc, namespace: string, at: EnvoyGatewayAddresses): Doc[] {
  const added: Doc[] = [];
  (doc.spec.rules as Rule[]).forEach((rule, i) => {
    const ports = at.deployments[routeRuleCluster(namespace, doc.metadata.name, i)];
    const name = ports === undefined ? `${doc.metadata.name}-${i}` : doc.metadata.name;
    if (ports !== undefined) added.push(backend(name, namespace, ports));
    else if ((rule.backendRefs ?? []).some((r) => r.kind === 'Service')) added.push(backend(name, namespace, [at.app]));
    else return;
    rule.backendRefs = [backendRef(name)];
  });
  return added;
}

export function renderEnvoyGatewayManifests(manifests: string, at: EnvoyGatewayAddresses): RenderedEnvoyGateway {
  const docs = parseAllDocuments(manifests).map((d) => {
    if (d.errors.length > 0) throw new Error(`deploy/envoy-gateway: ${d.errors[0]!.message}`);
    return d.toJS({ maxAliasCount: -1 }) as Doc | null;
  });
  const out: Doc[] = [];
  const added: Doc[] = [];
  let envoyVersion: string | undefined;
  for (const doc of docs) {
    if (doc === null) continue;
    const ns = doc.metadata.namespace ?? 'default';
    switch (doc.kind) {
      // Kubernetes' own objects: the file provider has no use for them.
      case 'Namespace':
      case 'ReferenceGrant':
      // The providers' Backends: each deployment route gets one of its own, on its mock hosts.
      case 'Backend':
        continue;
      case 'EnvoyProxy':
        envoyVersion = hostEnvoyProxy(doc, at.accessLog);
        break;
      case 'Gateway':
        for (const listener of doc.spec.listeners as Array<{ port: number }>) listener.port = at.listener;
        break;
      case 'HTTPRoute':
        added.push(...routeOnLoopback(doc, ns, at));
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
  // A route still on a provider's Backend is no deployment's (where LLM requests enter): it names a
  // deployment's Backend instead, never called but required to exist.
  for (const doc of out) {
    if (doc.kind !== 'HTTPRoute') continue;
    const ns = doc.metadata.namespace ?? 'default';
    for (const rule of doc.spec.rules as Rule[]) {
      if (!(rule.backendRefs ?? []).some((r) => r.kind === 'Backend' && !added.some((b) => b.metadata.name === r.name && b.metadata.namespace === ns))) continue;
      const stand = added.find((b) => b.metadata.namespace === ns && docs.some((d) => d?.kind === 'HTTPRoute' && d.metadata.name === b.metadata.name));
      if (stand === undefined) throw new Error(`HTTPRoute ${doc.metadata.name}: no deployment route in namespace ${ns} to stand in for its backend`);
      rule.backendRefs = [backendRef(stand.metadata.name)];
    }
  }
  return { resources: [...out, ...added].map((d) => stringify(d)).join('---\n'), envoyVersion };
}

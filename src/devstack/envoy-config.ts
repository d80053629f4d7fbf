/**
 * Renders envoy/envoy.yaml for other ports and deployments. Tests run the shipped file with only
 * addresses changed, so what CI proves is the config users get: every deployment cluster is a copy
 * of the shipped first deployment cluster (outlier detection, health checks, circuit breakers), and
 * the app's route and cluster stay beside them.
 */
import { parse, stringify } from 'yaml';
import { STREAM_HEADER } from '../pipeline/upstream.js';

/** Where Envoy reaches a router process: a loopback port or a Unix domain socket. */
export type RouterAddress = number | { readonly socket: string };

export interface EnvoyPorts {
  readonly listener: number;
  readonly admin: number;
  /** One or more router processes; Envoy spreads the ext_proc streams over them. */
  readonly router: RouterAddress | readonly RouterAddress[];
}

interface Cluster {
  name: string;
  load_assignment: { cluster_name: string; endpoints: unknown[] };
  [key: string]: unknown;
}

const ROUTER_CLUSTER = 'llm_router';
/** Where Envoy's tracer sends its spans (envoy.yaml's `tracing`). */
const COLLECTOR_CLUSTER = 'otel_collector';

const addressOf = (a: RouterAddress) => (typeof a === 'number' ? { socket_address: { address: '127.0.0.1', port_value: a } } : { pipe: { path: a.socket } });

const endpointsFor = (addresses: readonly RouterAddress[]) => [{ lb_endpoints: addresses.map((a) => ({ endpoint: { address: addressOf(a) } })) }];

interface HttpConnectionManager {
  http_filters: Array<{ name: string; typed_config: { processing_mode?: Record<string, string>; response_attributes?: string[]; allow_mode_override?: boolean; upstream_http_filters?: unknown } }>;
  route_config: { virtual_hosts: Array<{ routes: RouteEntry[]; typed_per_filter_config?: Record<string, unknown> }> };
  internal_address_config?: unknown;
}

/** A route table entry; `route` is absent for a redirect or a direct response. */
interface RouteEntry {
  match: { headers?: Array<{ name: string }>; [key: string]: unknown };
  route?: Route;
  typed_per_filter_config?: Record<string, unknown>;
}

interface Route {
  inline_cluster_specifier_plugin?: unknown;
  cluster?: string;
  retry_policy?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface RenderOptions {
  /**
   * The earlier layout, kept for the benchmark (variant `rh`): a response-headers phase in which the
   * router turns body reading on per response with `mode_override`.
   */
  readonly withResponseHeaders?: boolean;
  /**
   * "Plain Envoy", the benchmark baseline: the same listener, route and clusters without the
   * ext_proc filter, routing every request to this cluster.
   */
  readonly withoutRouterTo?: string;
  /** The stream route's per-attempt idle timeout (a stall test need not wait two minutes). */
  readonly streamIdleTimeout?: string;
  /** The router cluster's circuit-breaker max_requests (a test of Envoy's own refusal need not hold 10,000 requests). */
  readonly routerMaxRequests?: number;
  /**
   * Loopback clients are internal to Envoy (`use_remote_address` with `internal_address_config`), as
   * a mesh's pods often are: Envoy then honours their `x-envoy-*` request headers (retries, timeouts),
   * which the gateway's first filter must remove. Without the filter a client's
   * `x-envoy-upstream-rq-timeout-ms: 1` got a 504 and `x-envoy-max-retries: 0` took the fallback away.
   */
  readonly internalClients?: boolean;
  /** Every ext_proc filter's message timeout and its upper bound (the benchmark's router under valgrind answers many times slower). */
  readonly messageTimeout?: string;
  /** Where the app behind the routes that are not the router's (the shipped `app` cluster) listens; the shipped address otherwise. */
  readonly appPort?: number;
  /** Envoy's traces: the collector's OTLP gRPC port and the share of requests sampled (a percentage); the shipped ones otherwise. */
  readonly tracing?: { readonly collectorPort: number; readonly samplingPercent: number };
}

/** Sets `key` to `value` wherever an object of the tree has it. */
function setEverywhere(node: unknown, key: string, value: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  for (const [k, child] of Object.entries(node)) {
    if (k === key) (node as Record<string, unknown>)[k] = value;
    else setEverywhere(child, key, value);
  }
}

interface ClusterAction {
  action: { typed_config: { cluster: string } };
}

/**
 * Every map of the route's cluster matcher that names deployment clusters gets these instead. The
 * maps are one object behind YAML aliases, so each is rewritten in place.
 */
function listDeployments(node: unknown, names: readonly string[]): void {
  if (typeof node !== 'object' || node === null) return;
  const map = (node as { exact_match_map?: { map?: Record<string, unknown> } }).exact_match_map?.map;
  const actions = map === undefined ? [] : Object.values(map).filter((v): v is ClusterAction => typeof (v as Partial<ClusterAction>).action?.typed_config?.cluster === 'string');
  if (map !== undefined && actions.length > 0) {
    const template = actions[0]!.action;
    for (const key of Object.keys(map)) delete map[key];
    for (const name of names) map[name] = { action: { ...template, typed_config: { ...template.typed_config, cluster: name } } };
    return;
  }
  for (const child of Object.values(node)) listDeployments(child, names);
}

export function renderEnvoyConfig(
  shipped: string,
  ports: EnvoyPorts,
  deployments: Readonly<Record<string, readonly number[]>>,
  options: RenderOptions = {},
): string {
  const config = parse(shipped) as {
    admin: { address: { socket_address: { port_value: number } } };
    static_resources: {
      listeners: Array<{ address: { socket_address: { port_value: number } }; filter_chains: Array<{ filters: Array<{ typed_config: HttpConnectionManager }> }> }>;
      clusters: Cluster[];
    };
  };
  config.admin.address.socket_address.port_value = ports.admin;
  const listener = config.static_resources.listeners[0]!;
  listener.address.socket_address.port_value = ports.listener;
  const hcm = listener.filter_chains[0]!.filters[0]!.typed_config;
  if (options.withResponseHeaders === true) {
    const extProc = hcm.http_filters.find((f) => f.name === 'envoy.filters.http.ext_proc')!.typed_config;
    extProc.processing_mode = { ...extProc.processing_mode, response_header_mode: 'SEND', response_body_mode: 'NONE' };
    extProc.allow_mode_override = true;
    delete extProc.response_attributes;
  }
  if (options.messageTimeout !== undefined) for (const key of ['message_timeout', 'max_message_timeout']) setEverywhere(hcm, key, options.messageTimeout);
  if (options.internalClients === true) Object.assign(hcm, { use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.0', prefix_len: 8 }] } });
  // The LLM routes take their cluster from the router; the others name theirs (the app's).
  const all = hcm.route_config.virtual_hosts.flatMap((vh) => vh.routes);
  const routes = all.filter((r): r is RouteEntry & { route: Route } => r.route?.inline_cluster_specifier_plugin !== undefined);
  const appClusters = new Set(all.flatMap((r) => r.route?.cluster ?? []));
  for (const r of routes) listDeployments(r.route.inline_cluster_specifier_plugin, Object.keys(deployments));
  if (options.streamIdleTimeout !== undefined) {
    const stream = routes.find((r) => r.match.headers?.some((h) => h.name === STREAM_HEADER))!;
    stream.route.retry_policy = { ...stream.route.retry_policy, per_try_idle_timeout: options.streamIdleTimeout };
  }
  if (options.withoutRouterTo !== undefined) {
    hcm.http_filters = hcm.http_filters.filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    for (const scope of [...hcm.route_config.virtual_hosts, ...all]) delete scope.typed_per_filter_config?.['envoy.filters.http.ext_proc'];
    for (const f of hcm.http_filters) delete f.typed_config.upstream_http_filters;
    for (const r of routes) {
      delete r.route.inline_cluster_specifier_plugin;
      r.route.cluster = options.withoutRouterTo;
      r.route.retry_policy = { ...r.route.retry_policy, refresh_cluster_on_retry: false };
    }
  }
  const clusters = config.static_resources.clusters;
  const router = clusters.find((c) => c.name === ROUTER_CLUSTER);
  const collector = clusters.filter((c) => c.name === COLLECTOR_CLUSTER);
  if (options.tracing !== undefined) {
    for (const c of collector) c.load_assignment.endpoints = endpointsFor([options.tracing.collectorPort]);
    (hcm as { tracing?: { random_sampling: { value: number } } }).tracing!.random_sampling = { value: options.tracing.samplingPercent };
  }
  const template = clusters.find((c) => c.name !== ROUTER_CLUSTER && c.name !== COLLECTOR_CLUSTER && !appClusters.has(c.name));
  const apps = clusters.filter((c) => appClusters.has(c.name));
  if (options.appPort !== undefined) for (const app of apps) app.load_assignment.endpoints = endpointsFor([options.appPort]);
  if (router === undefined || template === undefined) throw new Error(`envoy.yaml must define the ${ROUTER_CLUSTER} cluster and at least one deployment cluster`);
  router.load_assignment.endpoints = endpointsFor(Array.isArray(ports.router) ? ports.router : [ports.router as RouterAddress]);
  if (options.routerMaxRequests !== undefined) {
    const breakers = router.circuit_breakers as { thresholds: Array<Record<string, unknown>> };
    breakers.thresholds[0]!.max_requests = options.routerMaxRequests;
  }
  config.static_resources.clusters = [
    router,
    ...Object.entries(deployments).map(([name, hostPorts]) => ({
      ...structuredClone(template),
      name,
      load_assignment: { cluster_name: name, endpoints: endpointsFor(hostPorts) },
    })),
    ...apps,
    ...collector,
  ];
  return stringify(config);
}

/**
 * Checks an envoy.yaml against the router.yaml it serves: what the router relies on Envoy for
 * (docs/operations.md, "Plugging the router into your Envoy"). Envoy's own `--mode validate` proves a
 * config is well formed; this proves it fits the router — every deployment has its cluster and its
 * matcher entries, the ext_proc filters send what the router reads, retries can leave the first
 * deployment — so a deployment added to one file and not the other is found before traffic finds it.
 *
 * Errors break routing, billing or credentials; warnings are settings production traffic suffers
 * from (a 15 s route timeout, a one-host cluster outlier detection never ejects).
 */
import { METADATA_NAMESPACE } from '../extproc/translate.js';
import type { Deployment, RouterConfig } from './compile.js';
import { HOP_HEADERS, STREAM_HEADER, TRANSLATE_HEADER } from '../pipeline/upstream.js';
import { list, obj, objects, type Found, type Obj, type YamlPath } from './yaml-walk.js';

export type Level = 'error' | 'warning';
export type { YamlPath } from './yaml-walk.js';

export interface EnvoyProblem {
  readonly level: Level;
  readonly path: YamlPath;
  readonly message: string;
}


const EXT = 'type.googleapis.com/envoy.extensions.';
const TYPE = {
  hcm: `${EXT}filters.network.http_connection_manager.v3.HttpConnectionManager`,
  extProc: `${EXT}filters.http.ext_proc.v3.ExternalProcessor`,
  router: `${EXT}filters.http.router.v3.Router`,
  headerMutation: `${EXT}filters.http.header_mutation.v3.HeaderMutation`,
  clusterMatcher: `${EXT}router.cluster_specifiers.matcher.v3.MatcherClusterSpecifier`,
  headerInput: 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput',
} as const;
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const FILTER_CONFIG = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';
const EXT_PROC_PER_ROUTE = `${EXT}filters.http.ext_proc.v3.ExtProcPerRoute`;

/** What each attribute is for; the router reads all of them. */
const RESPONSE_ATTRIBUTES: ReadonlyArray<readonly [string, string]> = [
  ['response.code', 'the router cannot tell a provider error from a completion, and bills errors'],
  ['xds.cluster_name', 'usage is billed to the first deployment even when a fallback hop answered'],
  ['upstream.request_attempt_count', 'the decision record cannot say how many attempts a request took'],
];
const HOP_ATTRIBUTES = ['xds.cluster_name', 'upstream.request_attempt_count'];
const ATTEMPT_COUNT = 'x-envoy-attempt-count';
const FILTER_METADATA = 'x-llm-filter';
const PLAN_HEADER = 'x-llm-plan';

/** An HTTP/2 :authority (RFC 3986 host[:port], userinfo allowed); a control plane's cluster name ("a/b/c", "outbound|50051||…") is none. */
const AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%[\]]+$/;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** What the attempt-failed filter reads of a failed attempt besides its providers' limit headers. */
const RETRY_HEADERS = ['retry-after', 'retry-after-ms'];

const ofType = (root: Found, type: string): Found[] => [...objects(root.value, root.path)].filter((f) => f.value['@type'] === type);

/** An ext_proc filter's `initial_metadata` value for `x-llm-filter`: which of the router's filters it is. */
const filterRole = (extProc: Obj): string | undefined => str(list(obj(extProc.grpc_service).initial_metadata).map(obj).find((m) => m.key === FILTER_METADATA)?.value);
const grpcCluster = (extProc: Obj): string | undefined => str(obj(obj(extProc.grpc_service).envoy_grpc).cluster_name);
/** A protobuf Duration as YAML and config_dump write it ("2s", "0.500s"), in ms; null for another form. */
const durationMs = (v: unknown): number | null => {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(str(v) ?? '');
  return m === null ? null : Number(m[1]) * 1000;
};

/** A deployment as router.yaml names it, with its cluster when that has another name. */
const named = (d: Deployment): string => (d.cluster === d.name ? `deployment "${d.name}"` : `deployment "${d.name}" (cluster "${d.cluster}")`);

/**
 * Whether the HTTP filter `name` runs for a route. `levels`: the route, its virtual host and the
 * route table, most specific first, as Envoy reads them: the most specific `FilterConfig` turns the
 * filter on or off (else the HCM's `disabled`), and the most specific `ExtProcPerRoute` (bare or in
 * a `FilterConfig`) can switch an ext_proc filter off.
 */
function runsFor(name: string, levels: readonly Obj[], offByDefault: boolean): boolean {
  let on: boolean | undefined;
  let skipped: boolean | undefined;
  for (const level of levels) {
    const entry = obj(obj(level.typed_per_filter_config)[name]);
    const perRoute = entry['@type'] === FILTER_CONFIG ? obj(entry.config) : entry;
    if (entry['@type'] === FILTER_CONFIG) on ??= entry.disabled !== true;
    if (perRoute['@type'] === EXT_PROC_PER_ROUTE) skipped ??= perRoute.disabled === true;
  }
  return (on ?? !offByDefault) && skipped !== true;
}

/** Whether a route action takes its cluster from the router's header (cluster_header, or a cluster matcher). */
const takesRoutersCluster = (route: Obj): boolean =>
  str(route.cluster_header) !== undefined || [...objects(route.inline_cluster_specifier_plugin)].some((f) => f.value['@type'] === TYPE.clusterMatcher);

/** A cluster's own upstream HTTP filters, which replace the router filter's upstream_http_filters for it. */
const ownUpstreamFilters = (cluster: Obj): unknown => obj(obj(cluster.typed_extension_protocol_options)[HTTP_OPTIONS]).http_filters;

/** The clusters a route sends to when it names them itself (`cluster`, `weighted_clusters`). */
const fixedClusters = (route: Obj): string[] => [
  ...[str(route.cluster)].filter((c) => c !== undefined),
  ...list(obj(route.weighted_clusters).clusters).flatMap((c) => [str(obj(c).name)].filter((n) => n !== undefined)),
];

/** The value a route's header matcher requires exactly, if it does. */
const exactly = (h: Obj): string | undefined => (h.invert_match === true ? undefined : (str(obj(h.string_match).exact) ?? str(h.exact_match)));

/** The router's HTTP filters of one connection manager, which the routes it does not serve must not run. */
interface RouterFilters {
  /** The ext_proc filter's name, and whether it is off unless a route turns it on. */
  readonly extProc: string;
  readonly extProcOff: boolean;
  /** The header_mutation filters before it (llm-client-headers), and whether each is off unless a route turns it on. */
  readonly clientHeaders: ReadonlyArray<{ readonly name: string; readonly off: boolean }>;
  /** The router filter runs the router's upstream filters for every cluster that has none of its own. */
  readonly upstreamFilters: boolean;
}

/** Envoy's request headers that steer it, standing for the x-envoy-* family a client must not send. */
const STEERING_ENVOY_HEADERS = [ATTEMPT_COUNT, 'x-envoy-max-retries', 'x-envoy-retry-on', 'x-envoy-upstream-rq-timeout-ms'];

/** Whether an ext_proc filter's `forward_rules` let the response header `name` through to the router. */
function forwards(forwardRules: Obj, name: string): boolean {
  const matches = (headers: unknown): boolean => list(obj(headers).patterns).some((p) => stringMatches(obj(p), name));
  const { allowed_headers: allowed, disallowed_headers: disallowed } = forwardRules;
  return (allowed === undefined || matches(allowed)) && (disallowed === undefined || !matches(disallowed));
}

/** Whether an Envoy StringMatcher (exact, prefix, suffix, contains, safe_regex; ignore_case) matches `value`. */
function stringMatches(m: Obj, value: string): boolean {
  const fold = (v: unknown): string | undefined => (typeof v !== 'string' ? undefined : m.ignore_case === true ? v.toLowerCase() : v);
  const v = fold(value)!;
  const exact = fold(m.exact);
  const prefix = fold(m.prefix);
  const suffix = fold(m.suffix);
  const contains = fold(m.contains);
  if (exact !== undefined) return v === exact;
  if (prefix !== undefined) return v.startsWith(prefix);
  if (suffix !== undefined) return v.endsWith(suffix);
  if (contains !== undefined) return v.includes(contains);
  const regex = str(obj(m.safe_regex).regex);
  if (regex === undefined) return false;
  try {
    // RE2, whole-string match; the subset such a header list uses is JavaScript's too.
    return new RegExp(`^(?:${regex})$`, m.ignore_case === true ? 'i' : '').test(value);
  } catch {
    return false;
  }
}

class Checker {
  readonly problems: EnvoyProblem[] = [];
  private readonly clusters = new Map<string, Found>();
  private readonly deployments: readonly Deployment[];
  /** Objects already checked: YAML aliases make one object appear at several paths; report it once. */
  private readonly seen = new Set<object>();
  private readonly seenFilterLists = new Set<string>();

  constructor(
    private readonly envoy: Obj,
    private readonly router: RouterConfig,
  ) {
    this.deployments = [...router.deployments.values()];
  }

  private error(path: YamlPath, message: string): void {
    this.problems.push({ level: 'error', path, message });
  }

  private warn(path: YamlPath, message: string): void {
    this.problems.push({ level: 'warning', path, message });
  }

  run(): void {
    const resources = obj(this.envoy.static_resources);
    if (this.envoy.dynamic_resources !== undefined) this.warn(['dynamic_resources'], 'listeners and clusters from xDS are not checked: only static_resources are');
    list(resources.clusters).forEach((c, i) => {
      const name = str(obj(c).name);
      if (name !== undefined) this.clusters.set(name, { value: obj(c), path: ['static_resources', 'clusters', i] });
    });
    const listeners = list(resources.listeners).map((l, i) => ({ value: obj(l), path: ['static_resources', 'listeners', i] as YamlPath }));
    let served = 0;
    for (const listener of listeners) {
      for (const hcm of ofType(listener, TYPE.hcm)) {
        const filters = list(hcm.value.http_filters);
        const at = filters.findIndex((f) => obj(obj(f).typed_config)['@type'] === TYPE.extProc);
        if (at < 0) continue;
        served++;
        this.checkListener(listener);
        this.checkHttpFilters(hcm, at);
        this.checkRoutes({ value: obj(hcm.value.route_config), path: [...hcm.path, 'route_config'] }, hcm.value.rds !== undefined, routerFilters(list(hcm.value.http_filters).map(obj), at));
      }
    }
    if (served === 0) this.error(['static_resources', 'listeners'], 'no HTTP connection manager has an ext_proc filter: nothing asks the router where a request goes');
    for (const d of this.deployments) this.checkDeploymentCluster(d);
  }

  private checkListener(listener: Found): void {
    const limit = Number(listener.value.per_connection_buffer_limit_bytes ?? 1024 * 1024);
    if (limit < this.router.maxRequestBodyBytes) {
      this.warn(
        [...listener.path, 'per_connection_buffer_limit_bytes'],
        `${limit} bytes is below router.yaml's limits.max_request_body_bytes (${this.router.maxRequestBodyBytes}): Envoy answers a body in between with its own 413 before the router sees it`,
      );
    }
  }

  private checkHttpFilters(hcm: Found, extProcAt: number): void {
    const filters = list(hcm.value.http_filters).map(obj);
    const path = [...hcm.path, 'http_filters'];
    const ext: Found = { value: obj(filters[extProcAt]!.typed_config), path: [...path, extProcAt, 'typed_config'] };
    this.checkClientHeaders(filters.slice(0, extProcAt), path);
    this.checkRouterService(ext);
    const mode = obj(ext.value.processing_mode);
    const modePath = [...ext.path, 'processing_mode'];
    if (mode.request_header_mode === 'SKIP') this.error([...modePath, 'request_header_mode'], 'SKIP: the router reads the endpoint and the virtual key from the request headers; use SEND');
    if (mode.request_body_mode !== 'BUFFERED') this.error([...modePath, 'request_body_mode'], 'must be BUFFERED: the router decides from the whole request body, and the routing header goes in its body reply');
    if (mode.response_body_mode !== 'STREAMED') this.error([...modePath, 'response_body_mode'], 'must be STREAMED: usage is read from the response as it passes (a stream is not held back)');
    const attributes = list(ext.value.response_attributes);
    for (const [attribute, without] of RESPONSE_ATTRIBUTES) {
      if (!attributes.includes(attribute)) this.error([...ext.path, 'response_attributes'], `lacks ${attribute}: without it ${without}`);
    }
    if (ext.value.message_timeout === undefined) this.warn(ext.path, 'no message_timeout: Envoy\'s 200 ms default is too short to parse and route a large body; set it (envoy.yaml: 2s)');
    const timeoutMs = durationMs(ext.value.message_timeout);
    const lagMs = this.router.overload.protectedMaxEventLoopLagMs;
    if (timeoutMs !== null && lagMs >= timeoutMs) {
      this.warn(
        [...ext.path, 'message_timeout'],
        `${timeoutMs} ms is not above router.yaml's limits.overload.protected_max_event_loop_lag_ms (${lagMs}): under overload, requests fail closed on Envoy's timeout before the router refuses them with 503 overloaded`,
      );
    }
    if (!list(obj(obj(ext.value.metadata_options).receiving_namespaces).untyped).includes(METADATA_NAMESPACE)) {
      this.warn(ext.path, `metadata_options.receiving_namespaces.untyped lacks ${METADATA_NAMESPACE}: Envoy drops the router's dynamic metadata (model, deployment, tokens, cost), and the access log shows none of it`);
    }
    if (ext.value.failure_mode_allow === true) this.warn([...ext.path, 'failure_mode_allow'], 'true: with the router down requests go out unrouted and unbilled; false with status_on_error 503 gives clients a retriable error');
    if (this.router.routing.decisionHeader && ext.value.allow_mode_override !== true) {
      this.warn(ext.path, 'routing.decision_header is on but allow_mode_override is not: x-llm-router-debug requests get no decision header');
    }
    const routerAt = filters.findIndex((f) => obj(f.typed_config)['@type'] === TYPE.router);
    if (routerAt < extProcAt) {
      this.error([...path, extProcAt], 'the ext_proc filter must come before envoy.filters.http.router, or Envoy routes before the router decides');
      return;
    }
    this.checkRouterFilter({ value: obj(filters[routerAt]!.typed_config), path: [...path, routerAt, 'typed_config'] });
  }

  /**
   * A header_mutation before the router's filter removes what a client must not send (Envoy's
   * steering headers, the router's internal ones) and keeps what it may (tags, tier, preference, debug).
   */
  private checkClientHeaders(before: readonly Obj[], path: YamlPath): void {
    const mutations = before
      .map((f) => obj(f.typed_config))
      .filter((t) => t['@type'] === TYPE.headerMutation)
      .flatMap((t) => list(obj(t.mutations).request_mutations).map(obj));
    const removed = (name: string): boolean => mutations.some((m) => str(m.remove) === name || stringMatches(obj(obj(m.remove_on_match).key_matcher), name));
    const internal = [this.router.clusterHeader, PLAN_HEADER, ...HOP_HEADERS, STREAM_HEADER, TRANSLATE_HEADER];
    const kept = [...STEERING_ENVOY_HEADERS, ...internal].filter((h) => !removed(h));
    if (kept.length > 0) {
      this.error(path, `no header_mutation before the ext_proc filter removes a client's ${kept.join(', ')}: a client could pick the deployment, its credential and its price, or Envoy's retries and timeouts (envoy.yaml: llm-client-headers)`);
    }
    const { tagsHeader, tierHeader, preferenceHeader } = this.router.routing;
    const inputs = [tagsHeader, tierHeader, preferenceHeader, 'x-llm-router-debug'].filter(removed);
    if (inputs.length > 0) this.error(path, `a header_mutation before the ext_proc filter removes ${inputs.join(', ')}: the router never sees these client inputs`);
  }

  /** The cluster an ext_proc filter calls: defined, and its settings checked once. */
  private checkRouterService(ext: Found): void {
    const cluster = grpcCluster(ext.value);
    if (cluster === undefined) return; // google_grpc: a target outside the cluster list
    if (obj(obj(ext.value.grpc_service).envoy_grpc).authority === undefined && !AUTHORITY.test(cluster)) {
      this.error(
        [...ext.path, 'grpc_service', 'envoy_grpc'],
        `no authority: Envoy sends the cluster name "${cluster}" as each gRPC stream's :authority, which is no valid authority, and the router's HTTP/2 server refuses the streams. Set envoy_grpc.authority (the router's host name)`,
      );
    }
    const found = this.clusters.get(cluster);
    if (found === undefined) this.error([...ext.path, 'grpc_service'], `names cluster "${cluster}", which is not defined`);
    else if (!this.seen.has(found.value)) {
      this.seen.add(found.value);
      this.checkRouterCluster(cluster, found);
    }
  }

  private checkRouterCluster(name: string, cluster: Found): void {
    const options = obj(obj(cluster.value.typed_extension_protocol_options)[HTTP_OPTIONS]);
    const http2 = obj(options.explicit_http_config).http2_protocol_options !== undefined || cluster.value.http2_protocol_options !== undefined;
    if (!http2) this.error(cluster.path, `the router's cluster "${name}" must speak HTTP/2 (gRPC): set ${HTTP_OPTIONS} explicit_http_config.http2_protocol_options`);
    const maxRequests = Number(obj(list(obj(cluster.value.circuit_breakers).thresholds)[0]).max_requests ?? 1024);
    if (maxRequests < 10_000) {
      this.warn(cluster.path, `circuit_breakers max_requests is ${maxRequests}: every open HTTP request holds one gRPC stream to the router for its whole length, so this caps concurrent LLM requests`);
    }
  }

  /**
   * The router's attempt filters run as the router filter's upstream_http_filters (envoy.yaml), or
   * as the http_filters of each deployment's cluster (an Istio gateway's EnvoyFilter, which must
   * leave the gateway's other upstreams alone): a cluster with filters of its own runs those
   * instead (checkDeploymentCluster checks them).
   */
  private checkRouterFilter(routerFilter: Found): void {
    if (routerFilter.value.suppress_envoy_headers !== true) this.warn(routerFilter.path, 'suppress_envoy_headers is not true: x-envoy-* headers (expected timeout, attempt count) reach third-party providers');
    const relying = this.deployments.filter((d) => {
      const cluster = this.clusters.get(d.cluster);
      return cluster !== undefined && ownUpstreamFilters(cluster.value) === undefined;
    });
    if (routerFilter.value.upstream_http_filters !== undefined || relying.length > 0) {
      this.checkAttemptFilters({ value: { filters: routerFilter.value.upstream_http_filters }, path: routerFilter.path });
    }
  }

  /**
   * One list of upstream HTTP filters that runs for deployment clusters: the router's hop,
   * attempt-failed and first-attempt filters. `owner` names a cluster whose own list this is.
   */
  private checkAttemptFilters(upstream: Found, owner = ''): void {
    const error = (path: YamlPath, message: string) => this.error(path, owner + message);
    const warn = (path: YamlPath, message: string) => this.warn(path, owner + message);
    const extProcs = ofType(upstream, TYPE.extProc);
    const hop = extProcs.find((f) => filterRole(f.value) === 'hop');
    if (hop === undefined) {
      error(upstream.path, 'no upstream ext_proc filter with initial_metadata x-llm-filter: hop: a retry on another deployment would carry the previous deployment\'s credential and model id');
    } else {
      this.checkRouterService(hop);
      if (hop.value.failure_mode_allow === true) error([...hop.path, 'failure_mode_allow'], 'must be false: a hop the router did not rewrite would carry another provider\'s credential');
      if (obj(hop.value.mutation_rules).allow_envoy !== true) error(hop.path, `needs mutation_rules.allow_envoy: true, to remove ${ATTEMPT_COUNT} once the router named the hop`);
      if (hop.value.allow_mode_override !== true) error(hop.path, 'needs allow_mode_override: true: a hop whose provider model id differs gets its body rewritten');
      const attributes = list(hop.value.request_attributes);
      for (const a of HOP_ATTRIBUTES) if (!attributes.includes(a)) error([...hop.path, 'request_attributes'], `lacks ${a}: the router cannot tell which attempt this is`);
      const forward = obj(hop.value.forward_rules).allowed_headers;
      if (forward !== undefined) {
        const exact = list(obj(forward).patterns).map((p) => obj(p).exact);
        for (const h of ['x-request-id', PLAN_HEADER]) if (!exact.includes(h)) error([...hop.path, 'forward_rules'], `does not forward ${h}: the router needs it to pick the next hop`);
      }
    }
    const failed = extProcs.find((f) => filterRole(f.value) === 'attempt-failed');
    if (failed === undefined) {
      warn(upstream.path, 'no upstream ext_proc filter with x-llm-filter: attempt-failed: 429s, Retry-After and repeated failures start no cooldown, and content-policy and context-window errors get no fallback');
    } else {
      this.checkRouterService(failed);
      const attributes = list(failed.value.response_attributes);
      for (const h of ['x-request-id', PLAN_HEADER, this.router.clusterHeader]) {
        const attribute = `request.headers['${h}']`;
        if (!attributes.includes(attribute)) error([...failed.path, 'response_attributes'], `lacks ${attribute}: the router cannot tell which request and deployment failed`);
      }
      this.checkFailedAttemptHeaders(failed);
    }
    const names = ofType(upstream, TYPE.headerMutation).flatMap((m) => list(obj(m.value.mutations).request_mutations).map((r) => str(obj(obj(obj(r).append).header).key)));
    if (!names.includes(this.router.clusterHeader)) {
      warn(upstream.path, `no upstream header_mutation sets ${this.router.clusterHeader} on a first attempt: a retry after it reaches its planned hop only through ${ATTEMPT_COUNT}`);
    }
  }

  /** The attempt-failed filter's forward_rules let through the status, Retry-After and the limits each provider reports. */
  private checkFailedAttemptHeaders(failed: Found): void {
    const rules = obj(failed.value.forward_rules);
    const path = [...failed.path, 'forward_rules'];
    if (!forwards(rules, ':status')) this.error(path, 'does not forward :status: the router cannot tell a 429 from a 503, and starts no cooldown');
    const retry = RETRY_HEADERS.filter((h) => !forwards(rules, h));
    if (retry.length > 0) this.warn(path, `does not forward ${retry.join(', ')}: a rate-limited deployment cools for cooldown_ms instead of as long as its provider asks`);
    if (!this.router.routing.providerLimitHeaders) return;
    const limits = new Set<string>();
    for (const d of this.router.deployments.values()) for (const h of d.adapter.rateLimitHeaders) if (!forwards(rules, h)) limits.add(h);
    if (limits.size > 0) {
      this.warn(path, `does not forward ${[...limits].join(', ')}: routing.provider_limit_headers is on, but a failed attempt's provider limits (a 429 saying none are left) never reach the router`);
    }
  }

  private checkRoutes(routeConfig: Found, rds: boolean, filters: RouterFilters): void {
    if (rds) {
      this.warn(routeConfig.path, 'routes from RDS are not checked');
      return;
    }
    let routed = 0;
    const caching = [...this.router.groups.values()].some((g) => g.cache !== null);
    list(routeConfig.value.virtual_hosts).forEach((vh, v) => {
      const host: Found = { value: obj(vh), path: [...routeConfig.path, 'virtual_hosts', v] };
      const served: boolean[] = [];
      // Whether the host has the router's routes: only then is its attempt count there for them.
      const routerHost = list(host.value.routes).some((r) => obj(r).route !== undefined && takesRoutersCluster(obj(obj(r).route)));
      list(host.value.routes).forEach((r, i) => {
        const route: Found = { value: obj(obj(r).route), path: [...host.path, 'routes', i, 'route'] };
        if (obj(r).route === undefined) return; // a redirect or a direct response
        const llm = this.checkRoute(route, host);
        if (llm) routed++;
        if (llm && caching && !addsCacheHeader([obj(r), host.value, routeConfig.value])) {
          this.warn(
            [...host.path, 'routes', i],
            `a model group caches, but this route adds no x-llm-cache from the router's metadata (response_headers_to_add: {header: {key: x-llm-cache, value: "%DYNAMIC_METADATA(${METADATA_NAMESPACE}:cache)%"}}, envoy.yaml: the virtual host): an answer that missed the cache or bypassed it does not say so`,
          );
        }
        // A route per deployment cluster, matched on the routing header naming it (a gateway's way), is the router's too.
        const [only, ...more] = fixedClusters(route.value);
        const keyed = more.length === 0 && list(obj(obj(r).match).headers).some((h) => obj(h).name === this.router.clusterHeader && exactly(obj(h)) === only);
        served[i] = llm || keyed;
        this.checkScope({ value: obj(r), path: [...host.path, 'routes', i] }, [obj(r), host.value, routeConfig.value], llm || keyed, filters, routerHost);
      });
      if (served.includes(true) && served.includes(false)) this.checkRoutedStayRouted(host, served);
    });
    if (routed === 0) this.error(routeConfig.path, `no route takes its cluster from the router (a MatcherClusterSpecifier reading ${this.router.clusterHeader}, or cluster_header)`);
  }

  /**
   * The router's filters run on the routes that take their cluster from it (LLM routes), and on no
   * other: a request there is not the router's to answer (it would get a 404, or a provider's
   * credential on its way to the app's cluster), nor its headers the router's to change.
   */
  private checkScope(entry: Found, levels: readonly Obj[], llm: boolean, filters: RouterFilters, routerHost: boolean): void {
    const on = runsFor(filters.extProc, levels, filters.extProcOff);
    if (llm) {
      if (!on) this.error(entry.path, `${filters.extProc} is off for this route (typed_per_filter_config): the router is never asked where its requests go, and Envoy answers them 503`);
      const off = filters.clientHeaders.filter(({ name, off }) => !runsFor(name, levels, off)).map(({ name }) => name);
      if (off.length > 0 && off.length === filters.clientHeaders.length) {
        this.error(entry.path, `${off.join(', ')} is off for this route (typed_per_filter_config): a client's ${this.router.clusterHeader} and x-envoy-* headers reach the router's routes and Envoy's retries`);
      }
      return;
    }
    const clusters = fixedClusters(obj(entry.value.route));
    if (on) {
      this.error(
        entry.path,
        `${filters.extProc} runs for this route, which does not take its cluster from the router: the router answers its requests 404, or routes them and Envoy sends them, with a provider's credential, to ${clusters.join(', ') || 'its cluster'}. Turn it off for the route (typed_per_filter_config: ExtProcPerRoute disabled: true; envoy.yaml: route app)`,
      );
      return;
    }
    const [route, host] = levels;
    if (routerHost && host!.include_request_attempt_count === true && !list(route!.request_headers_to_remove).includes(ATTEMPT_COUNT)) {
      this.warn(entry.path, `its requests get ${ATTEMPT_COUNT}, which the virtual host adds for the router's routes (request_headers_to_remove: [${ATTEMPT_COUNT}])`);
    }
    const touching = filters.clientHeaders.filter(({ name, off }) => runsFor(name, levels, off)).map(({ name }) => name);
    if (touching.length > 0) {
      this.warn(entry.path, `${touching.join(', ')} also runs for this route, which the router does not serve: its clients' x-envoy-* and x-llm-* headers are removed (turn it off here: a FilterConfig with disabled: true)`);
    }
    if (!filters.upstreamFilters) return;
    for (const name of clusters) {
      const cluster = this.clusters.get(name);
      if (cluster === undefined || ownUpstreamFilters(cluster.value) !== undefined) continue;
      this.warn(
        cluster.path,
        `cluster "${name}", of a route the router does not serve, runs the router filter's upstream_http_filters: its requests get ${this.router.clusterHeader} and its failed responses go to the router. Give it its own ${HTTP_OPTIONS} http_filters (envoy.yaml: cluster app)`,
      );
    }
  }

  /**
   * A virtual host with the router's routes and others: a request the router routed is matched
   * again (clear_route_cache) on a path it may have rewritten (Azure's /openai/deployments/…), so for
   * each deployment the first route that takes any path with the routing header naming its cluster
   * must be the router's.
   */
  private checkRoutedStayRouted(host: Found, served: readonly boolean[]): void {
    const header = this.router.clusterHeader;
    const names = (h: Obj, cluster: string): boolean => h.present_match === true || exactly(h) === cluster;
    const takes = (match: Obj, cluster: string): boolean =>
      (match.prefix === '/' || match.prefix === '') &&
      Object.keys(match).every((k) => k === 'prefix' || k === 'headers') &&
      list(match.headers).every((h) => obj(h).name === header && obj(h).invert_match !== true && names(obj(h), cluster));
    const routes = list(host.value.routes).map((r) => obj(obj(r).match));
    const lost = this.deployments.map((d) => ({ d, at: routes.findIndex((m) => takes(m, d.cluster)) })).filter(({ at }) => at < 0 || served[at] !== true);
    if (lost.length === 0) return;
    const { at } = lost[0]!;
    this.error(
      at < 0 ? [...host.path, 'routes'] : [...host.path, 'routes', at],
      `a request the router routed to ${lost.map(({ d }) => named(d)).join(', ')} is matched again on the provider's path (Azure's /openai/deployments/…), which ${at < 0 ? 'no route of the router takes' : 'reaches this route, not the router\'s: with a provider\'s credential'}. Put a route that takes any path with ${header} before the others (envoy.yaml: route llm)`,
    );
  }

  /** True when the route takes its cluster from the router. */
  private checkRoute(route: Found, host: Found): boolean {
    if (!takesRoutersCluster(route.value)) return false;
    const clusterHeader = str(route.value.cluster_header);
    const matchers = ofType({ value: obj(route.value.inline_cluster_specifier_plugin), path: [...route.path, 'inline_cluster_specifier_plugin'] }, TYPE.clusterMatcher);
    // One route action behind a YAML alias (envoy.yaml: llm and llm-requests) is checked once.
    if (this.seen.has(route.value)) return true;
    this.seen.add(route.value);
    if (route.value.timeout === undefined) {
      this.warn(route.path, 'no timeout: Envoy\'s 15 s default cuts long completions and streams; set timeout: 0s and bound silence with idle_timeout');
    }
    const retry = obj(route.value.retry_policy ?? host.value.retry_policy);
    const retryPath = route.value.retry_policy === undefined ? host.path : [...route.path, 'retry_policy'];
    if (clusterHeader !== undefined) {
      if (clusterHeader !== this.router.clusterHeader) this.error([...route.path, 'cluster_header'], `reads ${clusterHeader}, but the router writes its choice in ${this.router.clusterHeader}`);
      this.warn([...route.path, 'cluster_header'], 'Envoy reads cluster_header once: retries stay in the first deployment. Fallbacks need a MatcherClusterSpecifier with refresh_cluster_on_retry (envoy.yaml)');
      return true;
    }
    const readsAttempts = matchers.some((m) => this.checkClusterMatcher(m));
    if (readsAttempts && host.value.include_request_attempt_count !== true && !this.seen.has(host.value)) {
      this.seen.add(host.value);
      this.error(host.path, `needs include_request_attempt_count: true: the cluster matcher and the upstream filters read ${ATTEMPT_COUNT}`);
    }
    if (Object.keys(retry).length === 0) {
      this.warn(route.path, 'no retry_policy: a failing deployment gets no fallback');
      return true;
    }
    if (retry.refresh_cluster_on_retry !== true) this.error(retryPath, 'needs refresh_cluster_on_retry: true, or every retry goes back to the first deployment');
    const on = (str(retry.retry_on) ?? '').split(',').map((s) => s.trim());
    if (!on.includes('retriable-status-codes') || !list(retry.retriable_status_codes).map(Number).includes(429)) {
      this.warn(retryPath, 'does not retry 429: a rate-limited deployment\'s requests are not moved to the next hop');
    }
    if (!on.includes('retriable-headers') || !list(retry.retriable_headers).some((h) => obj(h).name === 'x-llm-retry')) {
      this.warn(retryPath, 'does not retry on the x-llm-retry header: content-policy and context-window errors get no fallback');
    }
    const retries = Number(retry.num_retries ?? 1);
    if (retries < 3) this.warn(retryPath, `num_retries is ${retries}: the router plans up to 3 hops after the first deployment`);
    return true;
  }

  /**
   * Every deployment in every map of cluster actions, every action's cluster defined, and the
   * router's header read somewhere. True when the matcher switches on Envoy's attempt count.
   */
  private checkClusterMatcher(matcher: Found): boolean {
    const inputs = new Set<string>();
    for (const node of objects(matcher.value, matcher.path)) {
      const tree = node.value;
      const header = str(obj(obj(tree.input).typed_config).header_name);
      if (header !== undefined) inputs.add(header);
      const map = obj(obj(tree.exact_match_map).map);
      const actions = Object.entries(map).map(([key, v]) => [key, str(obj(obj(obj(v).action).typed_config).cluster)] as const);
      if (actions.length === 0 || actions.every(([, c]) => c === undefined) || this.seen.has(map)) continue;
      this.seen.add(map);
      const mapPath = [...node.path, 'exact_match_map', 'map'];
      for (const d of this.deployments) {
        if (map[d.cluster] === undefined) this.error(mapPath, `${named(d)} of router.yaml is missing (matching ${header ?? 'its input'}): requests routed to it get Envoy's 503`);
      }
      for (const [key, cluster] of actions) {
        if (cluster !== undefined && !this.clusters.has(cluster)) this.error([...mapPath, key], `names cluster "${cluster}", which is not defined`);
        const d = this.router.clusters.get(key);
        if (d === undefined) this.warn([...mapPath, key], `"${key}" is not the cluster of a deployment of router.yaml`);
        // The router names a deployment by its cluster, and knows it again by the cluster Envoy reports.
        else if (cluster !== undefined && cluster !== key) this.error([...mapPath, key], `sends ${named(d)} to cluster "${cluster}": the router would not know the deployment Envoy reports, and a fallback hop there would get no credential`);
      }
    }
    if (!inputs.has(this.router.clusterHeader)) this.error(matcher.path, `never reads ${this.router.clusterHeader}, the header the router writes its choice in`);
    return inputs.has(ATTEMPT_COUNT);
  }

  private checkDeploymentCluster(d: Deployment): void {
    const cluster = this.clusters.get(d.cluster);
    if (cluster === undefined) {
      const of = d.cluster === d.name ? 'a deployment of router.yaml' : `deployment "${d.name}" of router.yaml`;
      this.error(['static_resources', 'clusters'], `no cluster named "${d.cluster}" (${of}): requests routed to it get Envoy's 503`);
      return;
    }
    const own = ownUpstreamFilters(cluster.value);
    if (own !== undefined) {
      // Identical lists (one EnvoyFilter patch per provider cluster) are reported once.
      const key = JSON.stringify(own);
      if (!this.seenFilterLists.has(key)) {
        this.seenFilterLists.add(key);
        this.checkAttemptFilters({ value: { filters: own }, path: [...cluster.path, 'typed_extension_protocol_options', HTTP_OPTIONS, 'http_filters'] }, `${named(d)}, its cluster's own http_filters: `);
      }
    }
    const outlier = cluster.value.outlier_detection;
    const hosts = list(obj(cluster.value.load_assignment).endpoints).flatMap((e) => list(obj(e).lb_endpoints)).length;
    if (outlier === undefined) this.warn(cluster.path, 'no outlier_detection: Envoy never ejects a failing host, and the router never learns of it');
    else if (hosts === 1 && Number(obj(outlier).max_ejection_percent ?? 10) < 100) {
      this.warn([...cluster.path, 'outlier_detection'], 'one host and max_ejection_percent under 100 (default 10): its only host is never ejected');
    }
    // LOGICAL_DNS: one logical host for a remote API (a SaaS provider's), which has no health endpoint to probe.
    if (cluster.value.health_checks === undefined && cluster.value.type !== 'LOGICAL_DNS') {
      this.warn(cluster.path, 'no health_checks: a deployment that is down is only found out by the requests sent to it');
    }
  }
}

/** The router's filters among `filters`, its ext_proc filter at `extProcAt`. */
function routerFilters(filters: readonly Obj[], extProcAt: number): RouterFilters {
  const router = filters.find((f) => obj(f.typed_config)['@type'] === TYPE.router);
  return {
    extProc: str(filters[extProcAt]!.name) ?? '',
    extProcOff: filters[extProcAt]!.disabled === true,
    clientHeaders: filters
      .slice(0, extProcAt)
      .filter((f) => obj(f.typed_config)['@type'] === TYPE.headerMutation)
      .map((f) => ({ name: str(f.name) ?? '', off: f.disabled === true })),
    upstreamFilters: list(obj(router?.typed_config).upstream_http_filters).length > 0,
  };
}

/** The problems of `envoy` (a parsed envoy.yaml, aliases resolved) for `router`; none when it fits. */
/** `x-llm-cache` set from the router's metadata on a route, its virtual host or its route table (`levels`). */
function addsCacheHeader(levels: readonly Obj[]): boolean {
  return levels.some((level) =>
    list(level.response_headers_to_add).some((add) => {
      const header = obj(obj(add).header);
      return String(header.key).toLowerCase() === 'x-llm-cache' && String(header.value).includes(`%DYNAMIC_METADATA(${METADATA_NAMESPACE}:cache)%`);
    }),
  );
}

export function checkEnvoyConfig(envoy: unknown, router: RouterConfig): EnvoyProblem[] {
  const checker = new Checker(obj(envoy), router);
  checker.run();
  return checker.problems;
}


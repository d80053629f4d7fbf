/**
 * `llm-router check-envoy`: the shipped envoy.yaml fits the example router.yaml, and each way an
 * operator can break the pair is named, at the place to fix it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkEnvoyConfig } from '../../../src/config/envoy-check.js';
import { configDumpAsStatic } from '../../../src/config/envoy-dump.js';
import { parseConfig } from '../../../src/config/load.js';

const ROUTER_TEXT = await readFile('examples/router.yaml', 'utf8');
const router = parseConfig(ROUTER_TEXT, 'examples/router.yaml', {});
const ENVOY_TEXT = await readFile('envoy/envoy.yaml', 'utf8');

// envoy.yaml is free-form YAML here: `any` for reaching into it.
const hcmOf = (e: any) => e.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const routesOf = (e: any) => hcmOf(e).route_config.virtual_hosts[0];
const filterOf = (e: any, name: string) => hcmOf(e).http_filters.find((f: any) => f.name === name);
const extProcOf = (e: any) => filterOf(e, 'envoy.filters.http.ext_proc').typed_config;
const routerFilterOf = (e: any) => filterOf(e, 'envoy.filters.http.router').typed_config;
const clientHeadersOf = (e: any) => filterOf(e, 'llm-client-headers').typed_config.mutations;
const clusterOf = (e: any, name: string) => e.static_resources.clusters.find((c: any) => c.name === name);
/** The map every cluster matcher shares (a YAML alias in envoy.yaml). */
const llmRoutesOf = (e: any) => routesOf(e).routes.filter((r: any) => r.route.inline_cluster_specifier_plugin !== undefined);
const appRouteOf = (e: any) => routesOf(e).routes.find((r: any) => r.name === 'app');
const deploymentMapOf = (e: any) => routesOf(e).routes[0].route.inline_cluster_specifier_plugin.extension.typed_config.cluster_matcher.on_no_match.matcher.matcher_tree.exact_match_map.map;

/** The example router.yaml after `edit`. */
const routerWith = (edit: (r: any) => void) => {
  const file = parse(ROUTER_TEXT);
  edit(file);
  return parseConfig(stringify(file), 'router.yaml', {});
};

/** The problems after `edit` on the shipped envoy.yaml, as "level: path: message". */
function problemsAfter(edit: (envoy: any) => void, config = router): string[] {
  const envoy = parse(ENVOY_TEXT, { maxAliasCount: -1 });
  edit(envoy);
  return checkEnvoyConfig(envoy, config).map((p) => `${p.level}: ${p.path.join('.')}: ${p.message}`);
}

describe('check-envoy', () => {
  it('finds nothing wrong with the shipped envoy.yaml and the example router.yaml', () => {
    expect(problemsAfter(() => {})).toEqual([]);
  });

  it('a caching group without the x-llm-cache header from the router\'s metadata on the LLM routes: a warning per route', () => {
    const problems = problemsAfter((e) => delete routesOf(e).response_headers_to_add);
    expect(problems.length).toBe(llmRoutesOf(parse(ENVOY_TEXT, { maxAliasCount: -1 })).length);
    for (const p of problems) expect(p).toMatch(/^warning: .*virtual_hosts\.0\.routes\.\d+: a model group caches, but this route adds no x-llm-cache/);
    // Without a caching group there is nothing to say.
    expect(problemsAfter((e) => delete routesOf(e).response_headers_to_add, routerWith((r) => r.model_groups.forEach((g: any) => delete g.cache)))).toEqual([]);
  });

  it('a deployment in router.yaml without its cluster and matcher entry: both errors, once each despite the YAML aliases', () => {
    const config = routerWith((r) => r.deployments.push({ ...r.deployments[0], name: 'new-deployment' }));
    const problems = problemsAfter(() => {}, config);
    expect(problems.filter((p) => p.includes('"new-deployment"'))).toEqual([
      expect.stringMatching(/^error: static_resources\.listeners\..*exact_match_map\.map: deployment "new-deployment" of router\.yaml is missing .*503/),
      expect.stringMatching(/^error: static_resources\.clusters: no cluster named "new-deployment"/),
    ]);
  });

  it('a matcher entry naming a cluster that is not defined, and one that is no deployment', () => {
    const problems = problemsAfter((e) => {
      e.static_resources.clusters = e.static_resources.clusters.filter((c: { name: string }) => c.name !== 'openai-gpt-4o');
      deploymentMapOf(e)['old-deployment'] = { action: { name: 'cluster', typed_config: { cluster: 'openai-gpt-4o-mini' } } };
    });
    expect(problems).toContainEqual(expect.stringMatching(/^error: .*map\.openai-gpt-4o: names cluster "openai-gpt-4o", which is not defined/));
    expect(problems).toContainEqual(expect.stringMatching(/^warning: .*map\.old-deployment: "old-deployment" is not the cluster of a deployment of router\.yaml/));
  });

  it('a router.yaml cluster_header the matcher does not read', () => {
    const config = routerWith((r) => (r.routing.cluster_header = 'x-target'));
    expect(problemsAfter(() => {}, config)).toContainEqual(expect.stringMatching(/^error: .*inline_cluster_specifier_plugin.*: never reads x-target/));
  });

  it('retries that cannot leave the first deployment, or skip 429 and the router\'s retry header', () => {
    const problems = problemsAfter((e) => {
      const retry = routesOf(e).routes[1].route.retry_policy;
      retry.refresh_cluster_on_retry = false;
      retry.retry_on = '5xx';
      retry.num_retries = 1;
    });
    expect(problems).toEqual([
      expect.stringMatching(/^error: .*routes\.1\.route\.retry_policy: needs refresh_cluster_on_retry: true/),
      expect.stringMatching(/^warning: .*routes\.1\.route\.retry_policy: does not retry 429/),
      expect.stringMatching(/^warning: .*routes\.1\.route\.retry_policy: does not retry on the x-llm-retry header/),
      expect.stringMatching(/^warning: .*routes\.1\.route\.retry_policy: num_retries is 1/),
    ]);
  });

  it('no route takes its cluster from the router', () => {
    const problems = problemsAfter((e) => {
      for (const r of llmRoutesOf(e)) {
        delete r.route.inline_cluster_specifier_plugin;
        r.route.cluster = 'openai-gpt-4o';
      }
    });
    expect(problems).toEqual([
      expect.stringMatching(/^error: .*routes\.0: envoy\.filters\.http\.ext_proc runs for this route, which does not take its cluster from the router: .*to openai-gpt-4o/),
      expect.stringMatching(/^error: .*routes\.1: envoy\.filters\.http\.ext_proc runs for this route/),
      expect.stringMatching(/^error: .*routes\.2: envoy\.filters\.http\.ext_proc runs for this route/),
      expect.stringMatching(/^error: .*route_config: no route takes its cluster from the router/),
    ]);
  });

  it('cluster_header routing: works for the first attempt only, which it says; a wrong header is an error', () => {
    const problems = problemsAfter((e) => {
      for (const r of llmRoutesOf(e)) {
        delete r.route.inline_cluster_specifier_plugin;
        r.route.cluster_header = 'x-cluster';
      }
    });
    expect(problems).toContainEqual(expect.stringMatching(/^error: .*cluster_header: reads x-cluster, but the router writes its choice in x-llm-cluster/));
    expect(problems).toContainEqual(expect.stringMatching(/^warning: .*cluster_header: Envoy reads cluster_header once: retries stay in the first deployment/));
  });

  it('the virtual host without the attempt count, and a route with Envoy\'s 15 s default timeout', () => {
    const problems = problemsAfter((e) => {
      delete routesOf(e).include_request_attempt_count;
      delete routesOf(e).routes[0].route.timeout;
    });
    expect(problems).toEqual([
      expect.stringMatching(/^warning: .*routes\.0\.route: no timeout: Envoy's 15 s default cuts long completions/),
      expect.stringMatching(/^error: .*virtual_hosts\.0: needs include_request_attempt_count: true/),
    ]);
  });

  it('the ext_proc filter: wrong processing modes, missing attributes, after the router filter', () => {
    expect(
      problemsAfter((e) => {
        const ext = extProcOf(e);
        ext.processing_mode.request_body_mode = 'STREAMED';
        ext.processing_mode.response_body_mode = 'NONE';
        ext.response_attributes = ['response.code'];
        delete ext.message_timeout;
        ext.failure_mode_allow = true;
        delete ext.metadata_options;
      }),
    ).toEqual([
      expect.stringMatching(/^error: .*processing_mode\.request_body_mode: must be BUFFERED/),
      expect.stringMatching(/^error: .*processing_mode\.response_body_mode: must be STREAMED/),
      expect.stringMatching(/^error: .*response_attributes: lacks xds\.cluster_name: without it usage is billed to the first deployment/),
      expect.stringMatching(/^error: .*response_attributes: lacks upstream\.request_attempt_count/),
      expect.stringMatching(/^warning: .*typed_config: no message_timeout/),
      expect.stringMatching(/^warning: .*typed_config: metadata_options\.receiving_namespaces\.untyped lacks llm_router: Envoy drops the router's dynamic metadata/),
      expect.stringMatching(/^warning: .*failure_mode_allow: true: with the router down requests go out unrouted and unbilled/),
    ]);
    const swapped = (e: any) => {
      const [clientHeaders, ext, routerFilter] = hcmOf(e).http_filters;
      hcmOf(e).http_filters = [clientHeaders, routerFilter, ext];
    };
    expect(problemsAfter(swapped)).toEqual([expect.stringMatching(/^error: .*http_filters\.2: the ext_proc filter must come before envoy\.filters\.http\.router/)]);
  });

  it('a message_timeout the router\'s protected lag bound reaches: requests would time out before the router sheds them', () => {
    const warning = expect.stringMatching(/^warning: .*typed_config\.message_timeout: 1500 ms is not above router\.yaml's limits\.overload\.protected_max_event_loop_lag_ms \(1500\)/);
    expect(problemsAfter((e) => (extProcOf(e).message_timeout = '1.5s'))).toEqual([warning]);
    expect(problemsAfter((e) => (extProcOf(e).message_timeout = '1.500s'))).toEqual([warning]);
    const lower = routerWith((r) => (r.limits = { ...r.limits, overload: { protected_max_event_loop_lag_ms: 1000 } }));
    expect(problemsAfter((e) => (extProcOf(e).message_timeout = '1.5s'), lower)).toEqual([]);
  });

  it('the upstream filters: a retry without the router would carry the previous deployment\'s credential', () => {
    expect(problemsAfter((e) => delete routerFilterOf(e).upstream_http_filters)).toEqual([
      expect.stringMatching(/^error: .*http_filters\.2\.typed_config: no upstream ext_proc filter with initial_metadata x-llm-filter: hop: .*credential/),
      expect.stringMatching(/^warning: .*no upstream ext_proc filter with x-llm-filter: attempt-failed/),
      expect.stringMatching(/^warning: .*no upstream header_mutation sets x-llm-cluster/),
    ]);
    const hop = (e: { [k: string]: unknown }) => routerFilterOf(e).upstream_http_filters[0].typed_config.matcher.on_no_match.action.typed_config.typed_config.typed_config;
    expect(
      problemsAfter((e) => {
        hop(e).failure_mode_allow = true;
        delete hop(e).mutation_rules;
        hop(e).forward_rules.allowed_headers.patterns = [{ exact: 'x-request-id' }];
      }),
    ).toEqual([
      expect.stringMatching(/^error: .*failure_mode_allow: must be false: a hop the router did not rewrite would carry another provider's credential/),
      expect.stringMatching(/^error: .*needs mutation_rules\.allow_envoy: true/),
      expect.stringMatching(/^error: .*forward_rules: does not forward x-llm-plan/),
    ]);
  });

  it("the attempt-failed filter's forward_rules: the status, Retry-After, and with provider_limit_headers every configured provider's limit headers", () => {
    const failed = (e: any) => routerFilterOf(e).upstream_http_filters[1].typed_config.matcher.matcher_list.matchers[0].on_match.action.typed_config.typed_config.typed_config;
    const openAiOnly = (e: any) => (failed(e).forward_rules.allowed_headers.patterns = [{ exact: ':status' }, { exact: 'retry-after' }, { exact: 'retry-after-ms' }, { prefix: 'x-ratelimit-' }]);
    const reading = routerWith((r) => (r.routing = { ...r.routing, provider_limit_headers: true }));
    expect(problemsAfter(() => {}, reading)).toEqual([]);
    // The example has an Anthropic deployment: its anthropic-ratelimit-* would not reach the router.
    expect(problemsAfter(openAiOnly, reading)).toEqual([
      expect.stringMatching(/^warning: .*forward_rules: does not forward anthropic-ratelimit-requests-limit, .*anthropic-ratelimit-output-tokens-reset, date: routing\.provider_limit_headers is on/),
    ]);
    // Without provider_limit_headers the router reads none.
    expect(problemsAfter(openAiOnly)).toEqual([]);
    expect(problemsAfter((e) => (failed(e).forward_rules.disallowed_headers = { patterns: [{ safe_regex: { regex: 'retry-after.*' } }] }))).toEqual([
      expect.stringMatching(/^warning: .*forward_rules: does not forward retry-after, retry-after-ms: a rate-limited deployment cools for cooldown_ms/),
    ]);
    expect(problemsAfter((e) => (failed(e).forward_rules.allowed_headers.patterns = [{ prefix: 'retry-after' }]))).toEqual([
      expect.stringMatching(/^error: .*forward_rules: does not forward :status/),
    ]);
  });

  it("a client's x-envoy-* and internal x-llm-* headers not removed before the router's filter; client inputs removed", () => {
    expect(problemsAfter((e) => (hcmOf(e).http_filters = hcmOf(e).http_filters.filter((f: any) => f.name !== 'llm-client-headers')))).toEqual([
      expect.stringMatching(/^error: .*http_filters: no header_mutation before the ext_proc filter removes a client's x-envoy-attempt-count, x-envoy-max-retries, .*x-llm-cluster, x-llm-plan, x-llm-hop-2, .*x-llm-stream, x-llm-translate: a client could pick the deployment, its credential and its price/),
    ]);
    // The regex covers the router's headers by name: a renamed cluster header must be added to it.
    const renamed = routerWith((r) => (r.routing = { ...r.routing, cluster_header: 'x-route-to' }));
    expect(problemsAfter(() => {}, renamed).filter((p) => p.includes('removes a client'))).toEqual([expect.stringMatching(/removes a client's x-route-to: /)]);
    expect(
      problemsAfter((e) => {
        clientHeadersOf(e).request_mutations.push({ remove_on_match: { key_matcher: { prefix: 'x-llm-' } } });
      }),
    ).toEqual([expect.stringMatching(/^error: .*http_filters: a header_mutation before the ext_proc filter removes x-llm-tags, x-llm-tier, x-llm-route-preference, x-llm-router-debug: the router never sees/)]);
  });

  it("the router's filter off by default and turned on for no LLM route, or turned off for one", () => {
    const off = /: envoy\.filters\.http\.ext_proc is off for this route \(typed_per_filter_config\): the router is never asked/;
    expect(problemsAfter((e) => delete routesOf(e).typed_per_filter_config)).toEqual([
      expect.stringMatching(new RegExp(`^error: .*routes\\.0${off.source}`)),
      expect.stringMatching(new RegExp(`^error: .*routes\\.1${off.source}`)),
      expect.stringMatching(new RegExp(`^error: .*routes\\.2${off.source}`)),
    ]);
    const perRoute = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute', disabled: true };
    expect(problemsAfter((e) => (llmRoutesOf(e)[1].typed_per_filter_config = { 'envoy.filters.http.ext_proc': perRoute }))).toEqual([
      expect.stringMatching(new RegExp(`^error: .*routes\\.1${off.source}`)),
    ]);
    // Turned on by the route itself instead of its virtual host.
    expect(
      problemsAfter((e) => {
        const on = routesOf(e).typed_per_filter_config;
        delete routesOf(e).typed_per_filter_config;
        for (const r of llmRoutesOf(e)) r.typed_per_filter_config = on;
        delete appRouteOf(e).typed_per_filter_config['envoy.filters.http.ext_proc'];
      }),
    ).toEqual([]);
  });

  it('the routes the router does not serve: its filters off for them, their clusters without its upstream filters', () => {
    expect(problemsAfter((e) => delete appRouteOf(e).typed_per_filter_config['envoy.filters.http.ext_proc'])).toEqual([
      expect.stringMatching(/^error: .*routes\.3: envoy\.filters\.http\.ext_proc runs for this route, which does not take its cluster from the router: the router answers its requests 404, or .* to app\. Turn it off/),
    ]);
    expect(
      problemsAfter((e) => {
        delete appRouteOf(e).typed_per_filter_config['llm-client-headers'];
        delete appRouteOf(e).request_headers_to_remove;
        delete clusterOf(e, 'app').typed_extension_protocol_options;
      }),
    ).toEqual([
      expect.stringMatching(/^warning: .*routes\.3: its requests get x-envoy-attempt-count, which the virtual host adds for the router's routes/),
      expect.stringMatching(/^warning: .*routes\.3: llm-client-headers also runs for this route, which the router does not serve/),
      expect.stringMatching(/^warning: static_resources\.clusters\.6: cluster "app", of a route the router does not serve, runs the router filter's upstream_http_filters/),
    ]);
  });

  it("an app on a virtual host of its own: the attempt count there is the gateway's choice (Istio's default), not the router's", () => {
    expect(
      problemsAfter((e) => {
        const app = appRouteOf(e);
        routesOf(e).routes = routesOf(e).routes.filter((r: any) => r !== app);
        delete app.request_headers_to_remove;
        hcmOf(e).route_config.virtual_hosts.unshift({ name: 'app', domains: ['app.example.com'], include_request_attempt_count: true, routes: [app] });
      }),
    ).toEqual([]);
  });

  it("a routed request matched again on the provider's path must find the router's routes first", () => {
    const reaches = /a request the router routed to deployment "openai-gpt-4o-mini", .* is matched again on the provider's path \(Azure's \/openai\/deployments\/…\), which reaches this route, not the router's/;
    // The app's catch-all before the route that takes any path with the routing header.
    expect(problemsAfter((e) => routesOf(e).routes.push(routesOf(e).routes.splice(1, 1)[0]))).toEqual([expect.stringMatching(new RegExp(`^error: .*virtual_hosts\\.0\\.routes\\.2: ${reaches.source}`))]);
    // LLM routes on the client's path only.
    expect(problemsAfter((e) => (llmRoutesOf(e)[1].match = { prefix: '/v1/' }))).toEqual([expect.stringMatching(new RegExp(`^error: .*virtual_hosts\\.0\\.routes\\.3: ${reaches.source}`))]);
    // A gateway's way: a route per deployment, matched on the routing header's value, the router's filter on.
    expect(
      problemsAfter((e) => {
        const perDeployment = [...router.deployments.values()].map((d) => ({ match: { prefix: '/', headers: [{ name: 'x-llm-cluster', string_match: { exact: d.cluster } }] }, route: { ...llmRoutesOf(e)[1].route, cluster: d.cluster, inline_cluster_specifier_plugin: undefined } }));
        routesOf(e).routes.splice(1, 1, ...perDeployment.map((r) => JSON.parse(JSON.stringify(r))));
      }).filter((p) => p.startsWith('error')),
    ).toEqual([]);
  });

  it('deployments on clusters a mesh or gateway named: found by their cluster, each matcher entry sending to its own', () => {
    const MESH: Record<string, string> = { 'openai-gpt-4o': 'outbound|443||api.openai.com', 'anthropic-claude-sonnet': 'httproute/default/llm/rule/0' };
    const config = routerWith((r) => r.deployments.forEach((d: any) => MESH[d.name] !== undefined && (d.cluster = MESH[d.name])));
    /** envoy.yaml with the clusters (and their matcher entries) renamed as the mesh names them. */
    const meshed = (e: any) => {
      for (const c of e.static_resources.clusters) if (MESH[c.name] !== undefined) c.name = c.load_assignment.cluster_name = MESH[c.name];
      const map = deploymentMapOf(e);
      for (const [from, to] of Object.entries(MESH)) {
        map[to] = { action: { ...map[from].action, typed_config: { ...map[from].action.typed_config, cluster: to } } };
        delete map[from];
      }
    };
    expect(problemsAfter(meshed, config)).toEqual([]);
    // The shipped envoy.yaml, whose clusters have the deployments' names.
    expect(problemsAfter(() => {}, config).filter((p) => p.startsWith('error'))).toEqual([
      expect.stringMatching(/^error: .*exact_match_map\.map: deployment "openai-gpt-4o" \(cluster "outbound\|443\|\|api\.openai\.com"\) of router\.yaml is missing/),
      expect.stringMatching(/^error: .*exact_match_map\.map: deployment "anthropic-claude-sonnet" \(cluster "httproute\/default\/llm\/rule\/0"\) of router\.yaml is missing/),
      expect.stringMatching(/^error: static_resources\.clusters: no cluster named "outbound\|443\|\|api\.openai\.com" \(deployment "openai-gpt-4o" of router\.yaml\)/),
      expect.stringMatching(/^error: static_resources\.clusters: no cluster named "httproute\/default\/llm\/rule\/0" \(deployment "anthropic-claude-sonnet" of router\.yaml\)/),
    ]);
    // An entry keyed by the deployment's cluster that sends elsewhere.
    expect(
      problemsAfter((e) => {
        meshed(e);
        deploymentMapOf(e)['outbound|443||api.openai.com'].action.typed_config.cluster = 'openai-gpt-4o-mini';
      }, config),
    ).toEqual([expect.stringMatching(/^error: .*map\.outbound\|443\|\|api\.openai\.com: sends deployment "openai-gpt-4o" \(cluster "outbound\|443\|\|api\.openai\.com"\) to cluster "openai-gpt-4o-mini": the router would not know the deployment/)]);
  });

  it("a router cluster whose name is no :authority (a control plane's), without envoy_grpc.authority: the router refuses the streams", () => {
    const renamed = (e: any) => {
      const text = JSON.stringify(e).replaceAll('"cluster_name":"llm_router"', '"cluster_name":"envoyextensionpolicy/llm-gateway/llm-router/extproc/0"');
      const out = JSON.parse(text);
      clusterOf(out, 'llm_router').name = 'envoyextensionpolicy/llm-gateway/llm-router/extproc/0';
      return out;
    };
    const problems = (envoy: any) => checkEnvoyConfig(envoy, router).map((p) => `${p.level}: ${p.path.join('.')}: ${p.message}`);
    const envoy = renamed(parse(ENVOY_TEXT, { maxAliasCount: -1 }));
    expect(problems(envoy)).toEqual([
      expect.stringMatching(/^error: .*http_filters\.1\.typed_config\.grpc_service\.envoy_grpc: no authority: Envoy sends the cluster name "envoyextensionpolicy\/llm-gateway\/llm-router\/extproc\/0" as each gRPC stream's :authority/),
      // The router filter's upstream filters: the hop's and the failed attempt's.
      expect.stringMatching(/^error: .*http_filters\.2\.typed_config\.filters\.0\..*grpc_service\.envoy_grpc: no authority/),
      expect.stringMatching(/^error: .*http_filters\.2\.typed_config\.filters\.1\..*grpc_service\.envoy_grpc: no authority/),
    ]);
    const withAuthority = JSON.parse(JSON.stringify(envoy).replaceAll('"cluster_name":"envoyextensionpolicy/llm-gateway/llm-router/extproc/0"', '"cluster_name":"envoyextensionpolicy/llm-gateway/llm-router/extproc/0","authority":"llm-router"'));
    expect(problems(withAuthority)).toEqual([]);
  });

  it("a deployment cluster whose own upstream filters replace the router's", () => {
    expect(
      problemsAfter((e) => {
        const own = clusterOf(e, 'app').typed_extension_protocol_options;
        clusterOf(e, 'openai-gpt-4o').typed_extension_protocol_options = own;
      }),
    ).toEqual([
      expect.stringMatching(/^error: static_resources\.clusters\.3\.typed_extension_protocol_options\.envoy\.extensions\.upstreams\.http\.v3\.HttpProtocolOptions\.http_filters: deployment "openai-gpt-4o", its cluster's own http_filters: no upstream ext_proc filter with initial_metadata x-llm-filter: hop: .*credential/),
      expect.stringMatching(/^warning: .*deployment "openai-gpt-4o", its cluster's own http_filters: no upstream ext_proc filter with x-llm-filter: attempt-failed/),
      expect.stringMatching(/^warning: .*deployment "openai-gpt-4o", its cluster's own http_filters: no upstream header_mutation sets x-llm-cluster/),
    ]);
  });

  it("the attempt filters on each deployment's cluster instead of the router filter (an Istio gateway's EnvoyFilter), and a cluster left without them", () => {
    const DEPLOYMENT_CLUSTERS = [...router.deployments.values()].map((d) => d.cluster);
    /** The router filter's upstream filters moved into each deployment cluster's own HttpProtocolOptions. */
    const onClusters = (e: any) => {
      const filters = routerFilterOf(e).upstream_http_filters;
      delete routerFilterOf(e).upstream_http_filters;
      for (const name of DEPLOYMENT_CLUSTERS) {
        const options = { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http_protocol_options: {} }, http_filters: structuredClone(filters) };
        clusterOf(e, name).typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': options };
      }
    };
    expect(problemsAfter(onClusters)).toEqual([]);
    // One cluster without them runs the router filter's, which has none.
    expect(
      problemsAfter((e) => {
        onClusters(e);
        delete clusterOf(e, 'openai-gpt-4o').typed_extension_protocol_options;
      }),
    ).toEqual([
      expect.stringMatching(/^error: .*http_filters\.2\.typed_config: no upstream ext_proc filter with initial_metadata x-llm-filter: hop/),
      expect.stringMatching(/^warning: .*http_filters\.2\.typed_config: no upstream ext_proc filter with x-llm-filter: attempt-failed/),
      expect.stringMatching(/^warning: .*http_filters\.2\.typed_config: no upstream header_mutation sets x-llm-cluster/),
    ]);
    // A broken copy is reported at its cluster.
    expect(
      problemsAfter((e) => {
        onClusters(e);
        const hop = clusterOf(e, 'anthropic-claude-sonnet').typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].http_filters[0].typed_config.matcher.on_no_match.action.typed_config.typed_config.typed_config;
        hop.failure_mode_allow = true;
      }),
    ).toEqual([expect.stringMatching(/^error: static_resources\.clusters\.5\..*failure_mode_allow: deployment "anthropic-claude-sonnet", its cluster's own http_filters: must be false/)]);
  });

  it("the client-header filter off by default (a shared gateway's HCM): on for the LLM routes, off for the others, and an LLM route it does not run for", () => {
    const offByDefault = (e: any) => {
      filterOf(e, 'llm-client-headers').disabled = true;
      routesOf(e).typed_per_filter_config['llm-client-headers'] = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig' };
    };
    expect(problemsAfter(offByDefault)).toEqual([]);
    const notTurnedOn = problemsAfter((e) => {
      offByDefault(e);
      delete routesOf(e).typed_per_filter_config['llm-client-headers'];
    });
    expect(notTurnedOn).toHaveLength(3);
    expect(notTurnedOn[0]).toMatch(/^error: .*routes\.0: llm-client-headers is off for this route \(typed_per_filter_config\): a client's x-llm-cluster and x-envoy-\* headers reach the router's routes/);
  });

  it('clusters: the router\'s without HTTP/2 or with default circuit breakers; a one-host deployment outlier detection never ejects', () => {
    expect(
      problemsAfter((e) => {
        const routerCluster = clusterOf(e, 'llm_router');
        delete routerCluster.typed_extension_protocol_options;
        delete routerCluster.circuit_breakers;
        delete clusterOf(e, 'openai-gpt-4o').outlier_detection.max_ejection_percent;
        delete clusterOf(e, 'openai-gpt-4o-mini').health_checks;
      }),
    ).toEqual([
      expect.stringMatching(/^error: static_resources\.clusters\.0: the router's cluster "llm_router" must speak HTTP\/2/),
      expect.stringMatching(/^warning: static_resources\.clusters\.0: circuit_breakers max_requests is 1024/),
      expect.stringMatching(/^warning: static_resources\.clusters\.1: no health_checks/),
      expect.stringMatching(/^warning: static_resources\.clusters\.3\.outlier_detection: one host and max_ejection_percent under 100/),
    ]);
  });

  it('a listener buffer below the router\'s body limit', () => {
    expect(problemsAfter((e) => (e.static_resources.listeners[0].per_connection_buffer_limit_bytes = 1048576))).toEqual([
      expect.stringMatching(/^warning: static_resources\.listeners\.0\.per_connection_buffer_limit_bytes: 1048576 bytes is below router\.yaml's limits\.max_request_body_bytes \(4194304\)/),
    ]);
  });

  it("a running Envoy's config dump, listeners, clusters and routes all from xDS (RDS), reads as the file does", () => {
    const envoy = parse(ENVOY_TEXT, { maxAliasCount: -1 });
    const hcm = hcmOf(envoy);
    const routeConfig = hcm.route_config;
    delete hcm.route_config;
    hcm.rds = { route_config_name: routeConfig.name, config_source: { ads: {} } };
    const dump = {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', dynamic_listeners: envoy.static_resources.listeners.map((listener: unknown) => ({ active_state: { listener } })) },
        { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: envoy.static_resources.clusters.map((cluster: unknown) => ({ cluster })) },
        { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: [{ route_config: routeConfig }] },
      ],
    };
    expect(checkEnvoyConfig(configDumpAsStatic(dump), router)).toEqual([]);
    deploymentMapOf({ static_resources: { listeners: [{ filter_chains: [{ filters: [{ typed_config: { route_config: routeConfig } }] }] }] } })['openai-gpt-4o'] = undefined;
    expect(checkEnvoyConfig(configDumpAsStatic(dump), router).map((p) => p.message)).toEqual([expect.stringMatching(/^deployment "openai-gpt-4o" of router\.yaml is missing/)]);
  });

  it('the command: each problem with its file, line and path; exit 1 on an error, 0 when it fits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'check-envoy-'));
    const broken = join(dir, 'envoy.yaml');
    await writeFile(broken, ENVOY_TEXT.replace('  - name: openai-gpt-4o\n', '  - name: openai-gpt4o\n'));
    const bad = spawnSync(process.execPath, ['dist/main.js', 'check-envoy', '-c', 'examples/router.yaml', broken], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^${broken}:\\d+:\\d+ static_resources\\.clusters: error: no cluster named "openai-gpt-4o"`, 'm'));
    expect(bad.stderr).toContain(`${broken}: does not fit examples/router.yaml (5 deployments): 2 errors, 0 warnings`);
    const good = spawnSync(process.execPath, ['dist/main.js', 'check-envoy', '-c', 'examples/router.yaml'], { encoding: 'utf8' });
    expect([good.status, good.stdout.trim()]).toEqual([0, 'envoy/envoy.yaml: fits examples/router.yaml (5 deployments): 0 errors, 0 warnings']);
  });
});

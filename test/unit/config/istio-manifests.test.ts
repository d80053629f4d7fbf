/**
 * deploy/istio/envoyfilters.yaml carries envoy.yaml's filters and route settings into an Istio
 * gateway. The two files are kept apart (one is Envoy's config, the other Istio's patches of its
 * own), so what the patches insert must stay what envoy.yaml runs: a setting changed in one and
 * not the other fails here, before the gateway suite would (if it checks that setting at all).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';

// Both files are free-form YAML here: `any` for reaching into them.
const envoy: any = parse(readFileSync(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8'), { maxAliasCount: -1 });
const filters: any[] = parseAllDocuments(readFileSync(join(PROJECT_ROOT, 'deploy', 'istio', 'envoyfilters.yaml'), 'utf8')).map((d) => d.toJS({ maxAliasCount: -1 }));

const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const envoyFilter = (name: string) => hcm.http_filters.find((f: any) => f.name === name);
const envoyRoute = (name: string) => hcm.route_config.virtual_hosts[0].routes.find((r: any) => r.name === name);
const patches = (name: string): any[] => filters.find((f) => f.metadata.name === name).spec.configPatches;
const inserted = (name: string) => patches('llm-router-filters').find((p) => p.patch.value.name === name).patch.value;
const routePatch = (name: string) => patches('llm-router-routes').find((p) => p.match.routeConfiguration.vhost.route?.name === name).patch.value;

/** `value` with every gRPC target made one (the router's cluster has another name in each file) and each cluster matcher's map left out (its keys are each file's clusters). */
function normalized(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v) => {
    if (key === 'envoy_grpc') return { cluster_name: 'the router' };
    if (key === 'exact_match_map' && typeof v?.map === 'object' && Object.values(v.map).some((e: any) => e?.action?.typed_config?.cluster !== undefined)) return { map: 'deployments' };
    return v;
  });
}

describe("deploy/istio's EnvoyFilters run envoy.yaml's settings", () => {
  it('the client-header filter and the router ext_proc filter, both off unless a route turns them on (envoy.yaml turns the first off for its app route instead)', () => {
    for (const name of ['llm-client-headers', 'envoy.filters.http.ext_proc']) {
      expect([name, normalized(inserted(name).typed_config)]).toEqual([name, normalized(envoyFilter(name).typed_config)]);
      expect([name, inserted(name).disabled]).toEqual([name, true]);
    }
  });

  it("the attempt filters on each provider cluster are the router filter's upstream_http_filters", () => {
    const upstream = normalized(envoyFilter('envoy.filters.http.router').typed_config.upstream_http_filters);
    const clusterPatches = patches('llm-router-clusters');
    expect(clusterPatches.length).toBeGreaterThan(0);
    for (const p of clusterPatches) {
      expect(normalized(p.patch.value.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].http_filters)).toEqual(upstream);
    }
  });

  it("each LLM route's action and response headers are envoy.yaml's route of the same name, its clusters aside", () => {
    for (const name of ['llm-stream', 'llm', 'llm-requests']) {
      const { route, response_headers_to_remove } = routePatch(name);
      expect([name, normalized(route)]).toEqual([name, normalized(envoyRoute(name).route)]);
      expect(response_headers_to_remove).toEqual(envoyRoute(name).response_headers_to_remove);
    }
  });

  it('the cluster matcher sends each deployment cluster to itself, on every hop', () => {
    const specifier = routePatch('llm').route.inline_cluster_specifier_plugin.extension.typed_config.cluster_matcher;
    const maps = [specifier.on_no_match.matcher.matcher_tree.exact_match_map.map, ...Object.values(specifier.matcher_tree.exact_match_map.map).map((e: any) => e.matcher.matcher_tree.exact_match_map.map)];
    const clusters = patches('llm-router-clusters').map((p) => p.match.cluster.name);
    for (const map of maps) expect(Object.fromEntries(Object.entries(map).map(([k, v]: [string, any]) => [k, v.action.typed_config.cluster]))).toEqual(Object.fromEntries(clusters.map((c) => [c, c])));
  });
});

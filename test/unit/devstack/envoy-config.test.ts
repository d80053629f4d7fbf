/** renderEnvoyConfig: the shipped envoy.yaml for the tests and the benchmark, changed only where they need it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';
import { renderEnvoyConfig } from '../../../src/devstack/envoy-config.js';

const shipped = readFileSync(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
const timeouts = (yaml: string) => [...yaml.matchAll(/^\s*(max_message_timeout|message_timeout): (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);

// The benchmark's router under valgrind answers many times slower: its Envoy must wait for every ext_proc message.
it('messageTimeout sets the message timeout and its bound of every ext_proc filter, the upstream ones too', () => {
  const ports = { listener: 10000, admin: 9901, router: 50051 };
  const before = timeouts(renderEnvoyConfig(shipped, ports, { a: [8080] }));
  const after = timeouts(renderEnvoyConfig(shipped, ports, { a: [8080] }, { messageTimeout: '60s' }));
  expect(before.length).toBeGreaterThanOrEqual(3);
  expect(before.some((t) => !t.endsWith(' 60s'))).toBe(true);
  expect(after).toEqual(before.map((t) => `${t.split(' ')[0]} 60s`));
});

it("keeps the app's route and cluster beside the deployments' (at appPort), whatever names the deployment clusters have", () => {
  const ports = { listener: 10000, admin: 9901, router: 50051 };
  const mesh = 'outbound|443||api.openai.com';
  // envoy.yaml is free-form YAML here: `any` for reaching into it.
  const rendered: any = parse(renderEnvoyConfig(shipped, ports, { [mesh]: [18081] }, { appPort: 18090 }), { maxAliasCount: -1 });
  const clusters = rendered.static_resources.clusters;
  expect(clusters.map((c: { name: string }) => c.name)).toEqual(['llm_router', mesh, 'app', 'otel_collector']);
  expect(clusters[2].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(18090);
  const routes = rendered.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
  expect(routes.map((r: { name: string }) => r.name)).toEqual(['llm-stream', 'llm', 'llm-requests', 'app']);
  expect(JSON.stringify(routes[1].route.inline_cluster_specifier_plugin)).toContain(`"${mesh}":{"action":{"name":"cluster","typed_config":{"@type":"type.googleapis.com/envoy.extensions.router.cluster_specifiers.matcher.v3.ClusterAction","cluster":"${mesh}"}}}`);
  // Plain Envoy (the benchmark baseline) sends the LLM routes to one cluster, and the app's still to the app.
  const plain: any = parse(renderEnvoyConfig(shipped, ports, { a: [18081] }, { withoutRouterTo: 'a' }), { maxAliasCount: -1 });
  const plainRoutes = plain.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
  expect(plainRoutes.map((r: { route: { cluster: string } }) => r.route.cluster)).toEqual(['a', 'a', 'a', 'app']);
});

/**
 * The provider cluster templates (deploy/envoy/clusters/) stay usable: each, put into the shipped
 * envoy.yaml the way their comments say, is accepted by Envoy itself (`--mode validate`) and fits
 * router.yaml by `llm-router check-envoy` (the router's upstream filters still run for it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkEnvoyConfig } from '../../../src/config/envoy-check.js';
import { parseConfig } from '../../../src/config/load.js';
import { resolveEnvoy } from '../../../src/devstack/binaries.js';

const ENVOY_TEXT = await readFile('envoy/envoy.yaml', 'utf8');
const ROUTER_TEXT = await readFile('examples/router.yaml', 'utf8');

/** The deployment a vLLM pool serves, as docs/deploy.md shows it. */
const VLLM_DEPLOYMENT = {
  name: 'vllm-llama-3-1-8b',
  provider: 'openai',
  model_group: 'gpt-4o-mini',
  provider_model: 'meta-llama/Llama-3.1-8B-Instruct',
  price: { input_per_million: 0, output_per_million: 0 },
  context_window: 131072,
  capabilities: ['chat', 'streaming', 'tools'],
};

// envoy.yaml is free-form YAML here: `any` for reaching into it.
/** The map of deployment clusters every route's cluster matcher shares (one object: a YAML alias). */
const deploymentMapOf = (e: any) =>
  e.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.inline_cluster_specifier_plugin.extension
    .typed_config.cluster_matcher.on_no_match.matcher.matcher_tree.exact_match_map.map;

/**
 * envoy.yaml with `template`'s clusters: one that has an example deployment's name replaces that
 * deployment's mock cluster; a new one is added, with its entry in the cluster matcher map.
 */
async function splice(template: string): Promise<{ envoy: any; added: string[] }> {
  const envoy = parse(ENVOY_TEXT, { maxAliasCount: -1 });
  const clusters: any[] = envoy.static_resources.clusters;
  const added: string[] = [];
  for (const cluster of parse(await readFile(join('deploy/envoy/clusters', template), 'utf8'), { maxAliasCount: -1 })) {
    const at = clusters.findIndex((c) => c.name === cluster.name);
    if (at >= 0) clusters[at] = cluster;
    else {
      clusters.push(cluster);
      const action = { '@type': 'type.googleapis.com/envoy.extensions.router.cluster_specifiers.matcher.v3.ClusterAction', cluster: cluster.name };
      deploymentMapOf(envoy)[cluster.name] = { action: { name: 'cluster', typed_config: action } };
      added.push(cluster.name);
    }
  }
  return { envoy, added };
}

describe.each([
  { template: 'saas-provider.yaml', deployments: [] as (typeof VLLM_DEPLOYMENT)[] },
  { template: 'vllm-pool.yaml', deployments: [VLLM_DEPLOYMENT] },
])('deploy/envoy/clusters/$template in envoy.yaml', ({ template, deployments }) => {
  it('adds or replaces only the deployments it says, and fits router.yaml by check-envoy: no error, no warning', async () => {
    const { envoy, added } = await splice(template);
    expect(added).toEqual(deployments.map((d) => d.name));
    const router = parse(ROUTER_TEXT);
    router.deployments.push(...deployments);
    expect(checkEnvoyConfig(envoy, parseConfig(stringify(router), 'router.yaml', {}))).toEqual([]);
  });

  it('Envoy accepts it (--mode validate), and the check-envoy command passes on the same files', async () => {
    const { envoy } = await splice(template);
    const dir = await mkdtemp(join(tmpdir(), 'cluster-template-'));
    const envoyFile = join(dir, 'envoy.yaml');
    const routerFile = join(dir, 'router.yaml');
    await writeFile(envoyFile, stringify(envoy));
    const router = parse(ROUTER_TEXT);
    router.deployments.push(...deployments);
    await writeFile(routerFile, stringify(router));

    const validate = spawnSync(resolveEnvoy(), ['--mode', 'validate', '-c', envoyFile, '--log-level', 'error'], { encoding: 'utf8' });
    expect([validate.status, validate.stderr]).toEqual([0, '']);
    expect(validate.stdout).toContain(`configuration '${envoyFile}' OK`);

    const check = spawnSync(process.execPath, ['dist/main.js', 'check-envoy', '-c', routerFile, envoyFile], { encoding: 'utf8' });
    expect([check.status, check.stderr]).toEqual([0, '']);
    expect(check.stdout).toMatch(/: 0 errors, 0 warnings$/m);
  });
});

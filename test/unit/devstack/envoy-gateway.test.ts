/**
 * deploy/envoy-gateway/ rendered for a standalone Envoy Gateway on one machine: the manifests users
 * apply, with only where things are changed.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderEnvoyGatewayManifests, routeRuleCluster } from '../../../src/devstack/envoy-gateway.js';
import { readManifests } from '../../support/envoy-gateway.js';

const MINI = routeRuleCluster('llm-gateway', 'llm-openai-gpt-4o-mini', 0);
const GPT4O = routeRuleCluster('llm-gateway', 'llm-openai-gpt-4o', 0);
const CLAUDE = routeRuleCluster('llm-gateway', 'llm-anthropic-claude-sonnet', 0);
const AT = { listener: 21000, router: [21001, 21002], deployments: { [MINI]: [21010, 21011], [GPT4O]: [21020], [CLAUDE]: [21030] }, app: 21040, accessLog: '/tmp/access.log' };

// Rendered manifests are free-form YAML here: `any` for reaching into them.
const render = async () => {
  const rendered = renderEnvoyGatewayManifests(await readManifests(), AT);
  return { ...rendered, docs: parseAllDocuments(rendered.resources).map((d) => d.toJS() as any) };
};
const named = (docs: any[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const endpointsOf = (docs: any[], backend: string) => named(docs, 'Backend', backend).spec.endpoints.map((e: any) => `${e.ip.address}:${e.ip.port}`);

describe('deploy/envoy-gateway rendered for a standalone Envoy Gateway', () => {
  it("runs the Envoy release the EnvoyProxy's image names, as a host process, logging where the test reads", async () => {
    const { envoyVersion, docs } = await render();
    expect(envoyVersion).toBe('1.40.0');
    const proxy = named(docs, 'EnvoyProxy', 'llm');
    expect(proxy.spec.provider).toEqual({ type: 'Host', host: { envoyVersion: '1.40.0' } });
    expect(proxy.spec.telemetry.accessLog.settings[0].sinks).toEqual([{ type: 'File', file: { path: AT.accessLog } }]);
    expect(named(docs, 'Gateway', 'llm').spec.listeners.map((l: any) => l.port)).toEqual([AT.listener]);
  });

  it('each deployment route on its own hosts, the entry route on one of them, the router and the app on theirs', async () => {
    const { docs } = await render();
    const refs = (route: string) => named(docs, 'HTTPRoute', route).spec.rules.flatMap((r: any) => r.backendRefs.map((b: any) => `${b.kind}/${b.name}`));
    expect(refs('llm-openai-gpt-4o-mini')).toEqual(['Backend/llm-openai-gpt-4o-mini']);
    expect(endpointsOf(docs, 'llm-openai-gpt-4o-mini')).toEqual(['127.0.0.1:21010', '127.0.0.1:21011']);
    expect(endpointsOf(docs, 'llm-anthropic-claude-sonnet')).toEqual(['127.0.0.1:21030']);
    expect(refs('llm-requests')).toEqual(['Backend/llm-openai-gpt-4o-mini']);
    expect(refs('app')).toEqual(['Backend/app-0']);
    expect(endpointsOf(docs, 'app-0')).toEqual(['127.0.0.1:21040']);
    expect(named(docs, 'EnvoyExtensionPolicy', 'llm-router').spec.extProc[0].backendRefs).toEqual([{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'llm-router' }]);
    expect(endpointsOf(docs, 'llm-router')).toEqual(['127.0.0.1:21001', '127.0.0.1:21002']);
    // Nothing left that reaches outside: no provider's hostname, no Service, no Kubernetes-only object.
    expect(docs.filter((d) => d.kind === 'Backend').flatMap((d) => d.spec.endpoints.filter((e: any) => e.ip === undefined))).toEqual([]);
    expect(docs.map((d) => d.kind)).not.toContain('ReferenceGrant');
    expect(JSON.stringify(docs)).not.toMatch(/"kind":"Service"/);
  });

  it("the patch policy names the clusters the rendered routes make, and the ext_proc's filter and cluster as standalone Envoy Gateway derives them", async () => {
    const { docs } = await render();
    const patches = JSON.stringify(named(docs, 'EnvoyPatchPolicy', 'llm-router').spec.jsonPatches);
    for (const cluster of [MINI, GPT4O, CLAUDE]) expect(patches).toContain(cluster);
    // On Kubernetes `envoyextensionpolicy/llm-gateway/llm-router/extproc/0`; standalone without the kind.
    expect(patches).toContain("@.name=='envoy.filters.http.ext_proc//llm-gateway/llm-router/extproc/0'");
    expect(patches).toContain('"cluster_name":"/llm-gateway/llm-router/extproc/0"');
    expect(patches).not.toContain('envoyextensionpolicy/');
  });
});

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { ROUTER_YAML, config, configProblems as problems } from '../../support/fixtures.js';

describe('router.yaml', () => {
  it('compiles groups, prices per token and credentials from the environment', () => {
    const c = config();
    expect([...c.groups.keys()]).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(c.groups.get('gpt-4o-mini')!.deployments.map((d) => d.name)).toEqual(['mini-a', 'mini-b']);
    const a = c.deployments.get('mini-a')!;
    expect(a.price).toEqual({ inputNanosPerToken: 150, cachedInputNanosPerToken: 75, outputNanosPerToken: 600 });
    expect(a.upstreamHeaders).toEqual([['authorization', 'Bearer sk-mini-a']]);
    expect(c.deployments.get('mini-b')!.price.cachedInputNanosPerToken).toBe(150);
    expect(c.clusterHeader).toBe('x-llm-cluster');
    expect(c.maxRequestBodyBytes).toBe(4 * 1024 * 1024);
    expect(c.state.kind).toBe('memory');
    // The in-memory record log is bounded small: it lives in the router's heap.
    expect(c.state.usage_log_max_entries).toBe(10_000);
    expect(parseConfig(`${ROUTER_YAML}\nstate: {kind: redis}\n`, 'router.yaml', {}).state.usage_log_max_entries).toBe(1_000_000);
  });

  it('limits.overload: defaults, protected tiers, and protected bounds no lower than the ordinary ones', () => {
    expect(config().overload).toEqual({ maxEventLoopLagMs: 1000, maxInFlight: 256, protectedTiers: new Set(), protectedMaxEventLoopLagMs: 1500, protectedMaxInFlight: 1024, retryAfterSec: 1 });
    const set = (overload: string) => parseConfig(`${ROUTER_YAML}\nlimits: {overload: ${overload}}\n`, 'router.yaml', {}).overload;
    expect(set('{protected_tiers: [premium], max_in_flight: 8, protected_max_in_flight: 8}')).toMatchObject({ protectedTiers: new Set(['premium']), maxInFlight: 8, protectedMaxInFlight: 8 });
    expect(problems(`${ROUTER_YAML}\nlimits: {overload: {max_event_loop_lag_ms: 2000}}\n`)).toEqual([
      expect.stringMatching(/^\d+:limits\.overload: the protected bounds must be at least the ordinary ones$/),
    ]);
  });

  it('remembers a credential variable that is not set, so serve can warn', () => {
    expect(config({}).deployments.get('mini-a')!.missingCredential).toBe('environment variable MINI_A_KEY');
  });

  it("calls each deployment at its provider's path with its provider's auth, unless router.yaml says otherwise", () => {
    const c = config();
    expect(c.deployments.get('mini-a')!.paths).toEqual({
      chat: '/v1/chat/completions',
      'chat-stream': '/v1/chat/completions',
      embeddings: '/v1/embeddings',
      completions: '/v1/completions',
      count_tokens: null,
    });
    // Azure: the deployment (its provider_model) in the path, the GA api-version, the key in api-key.
    const azure = parseConfig(ROUTER_YAML.replace('    provider: azure-openai\n', '    provider: azure-openai\n    api_key_env: AZ\n'), 'router.yaml', { AZ: 'az-key' }).deployments.get('mini-b')!;
    expect(azure.paths.chat).toBe('/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
    expect(azure.paths.completions).toBe('/openai/deployments/gpt-4o-mini/completions?api-version=2024-10-21');
    expect(azure.upstreamHeaders).toEqual([['api-key', 'az-key']]);
    // What other deployments set is removed on its attempts (they share one header map), its own kept.
    expect(azure.removedHeaders).toContain('authorization');
    expect(azure.removedHeaders).not.toContain('api-key');
    const custom = parseConfig(
      ROUTER_YAML.replace(
        '    api_key_env: MINI_A_KEY\n',
        "    api_key_env: MINI_A_KEY\n    endpoint: {base_path: /api/openai/v1, query: {tenant: a b}, auth: x-api-key, headers: {X-Gateway: edge}}\n",
      ),
      'router.yaml',
      { MINI_A_KEY: 'k' },
    ).deployments.get('mini-a')!;
    expect(custom.paths.chat).toBe('/api/openai/v1/chat/completions?tenant=a+b');
    expect(custom.upstreamHeaders).toEqual([['x-gateway', 'edge'], ['x-api-key', 'k']]);
  });

  it('refuses a capability whose API the provider lacks: text completions on Anthropic', () => {
    const claude = "    provider: anthropic\n    provider_model: claude-sonnet-4-5\n    capabilities: [chat, completions]\n";
    expect(problems(ROUTER_YAML.replace('    provider: openai\n    model_group: gpt-4o\n    provider_model: gpt-4o\n', `${claude}    model_group: gpt-4o\n`))).toEqual([
      expect.stringMatching(/deployments\[2\]\.capabilities: provider anthropic has no completions API$/),
    ]);
  });

  it('refuses a fixed header that is a credential header, and a base path with a query or trailing slash', () => {
    const withEndpoint = (e: string) => problems(ROUTER_YAML.replace('    api_key_env: MINI_A_KEY\n', `    api_key_env: MINI_A_KEY\n    endpoint: ${e}\n`));
    expect(withEndpoint('{headers: {Authorization: x}}')).toEqual([expect.stringMatching(/deployments\[0\]\.endpoint\.headers\.Authorization: is a credential header/)]);
    expect(withEndpoint('{base_path: /v1/}')).toEqual([expect.stringMatching(/base_path: must be a path/)]);
    expect(withEndpoint('{base_path: "/v1?x=1"}')).toEqual([expect.stringMatching(/base_path: must be a path/)]);
  });

  it('reads a credential from a file (a mounted Secret) relative to router.yaml, at every load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-'));
    writeFileSync(join(dir, 'router.yaml'), ROUTER_YAML.replace('    api_key_env: MINI_A_KEY\n', '    api_key_file: secrets/mini-a\n'));
    mkdirSync(join(dir, 'secrets'));
    expect((await loadConfig(join(dir, 'router.yaml'), {})).deployments.get('mini-a')!.missingCredential).toBe('file secrets/mini-a');
    writeFileSync(join(dir, 'secrets', 'mini-a'), 'sk-from-file\n');
    expect((await loadConfig(join(dir, 'router.yaml'), {})).deployments.get('mini-a')!.upstreamHeaders).toEqual([['authorization', 'Bearer sk-from-file']]);
    writeFileSync(join(dir, 'secrets', 'mini-a'), 'sk-rotated');
    expect((await loadConfig(join(dir, 'router.yaml'), {})).deployments.get('mini-a')!.upstreamHeaders).toEqual([['authorization', 'Bearer sk-rotated']]);
    expect(problems(ROUTER_YAML.replace('    api_key_env: MINI_A_KEY\n', '    api_key_env: MINI_A_KEY\n    api_key_file: k\n'))).toEqual([
      expect.stringMatching(/deployments\[0\]\.api_key_file: set api_key_env or api_key_file, not both/),
    ]);
  });

  it('reports every problem at once, each with its YAML path and line', () => {
    const broken = ROUTER_YAML.replace('weight: 3', 'weight: -3')
      .replace('provider: azure-openai', 'provider: azure')
      .replace('context_window: 128000\n  - name: big', 'context_windw: 128000\n  - name: big');
    expect(problems(broken)).toEqual([
      '10:deployments[0].weight: Too small: expected number to be >0',
      '15:deployments[1].provider: Invalid option: expected one of "openai"|"azure-openai"|"vllm"|"openai-compatible"|"anthropic"|"gemini"|"bedrock"',
      '14:deployments[1]: Unrecognized key: "context_windw"',
    ]);
    expect(problems(ROUTER_YAML.replace('model_group: gpt-4o\n', 'model_group: gpt-5\n'))).toEqual([
      '23:deployments[2].model_group: unknown model group "gpt-5"',
      '4:model_groups[1]: model group "gpt-4o" has no deployments',
    ]);
  });

  it('reports duplicate names and YAML syntax errors', () => {
    expect(problems(ROUTER_YAML.replace('name: mini-b', 'name: mini-a'))).toEqual(['14:deployments[1].name: duplicate deployment "mini-a"']);
    expect(problems('model_groups:\n  - name: a\n   bad: [\n')[0]).toMatch(/^3:\(yaml\): /);
  });

  it("a deployment's cluster: a mesh's or gateway's name, its own by default; one deployment per cluster", () => {
    const c = parseConfig(ROUTER_YAML.replace('  - name: mini-b\n', '  - name: mini-b\n    cluster: "outbound|443||mini.example.com"\n'), 'router.yaml', {});
    expect(c.deployments.get('mini-b')!.cluster).toBe('outbound|443||mini.example.com');
    expect(c.clusters.get('outbound|443||mini.example.com')!.name).toBe('mini-b');
    expect([c.deployments.get('mini-a')!.cluster, c.clusters.has('mini-b')]).toEqual(['mini-a', false]);
    expect(problems(ROUTER_YAML.replace('  - name: mini-b\n', '  - name: mini-b\n    cluster: mini-a\n'))).toEqual([
      '15:deployments[1].cluster: cluster "mini-a" already serves deployment "mini-a": each deployment needs a cluster of its own',
    ]);
    expect(problems(ROUTER_YAML.replace('  - name: mini-b\n', '  - name: mini-b\n    cluster: "two words"\n'))).toEqual([
      expect.stringMatching(/^15:deployments\[1\]\.cluster: must be an Envoy cluster name of printable characters without spaces/),
    ]);
  });

  it('the bundled example is valid', () => {
    const out = execFileSync(process.execPath, ['dist/main.js', 'validate', 'examples/router.yaml'], { encoding: 'utf8' });
    expect(out).toContain('examples/router.yaml: OK (4 model groups, 5 deployments)');
  });

  it('`llm-router validate` prints every problem with file, line and path, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'router.yaml');
    writeFileSync(file, ROUTER_YAML.replace('weight: 3', 'weight: 0').replace(/^ *provider_model: gpt-4o\n/m, ''));
    const r = spawnSync(process.execPath, ['dist/main.js', 'validate', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}:10:13 deployments[0].weight: Too small`);
    expect(r.stderr).toMatch(/deployments\[2\]\.provider_model: /);
  });
});

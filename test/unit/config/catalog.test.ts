import { describe, expect, it } from 'vitest';
import { catalogEntry } from '../../../src/config/catalog.js';
import { parseConfig } from '../../../src/config/load.js';
import { configProblems as problems } from '../../support/fixtures.js';

const AWS = 'aws: {region: us-east-1, access_key_id: {env: AK}, secret_access_key: {env: SK}}';

/** router.yaml with one group and these deployments (each a YAML flow mapping). */
function routerYaml(...deployments: string[]): string {
  return `model_groups:\n  - name: g\ndeployments:\n${deployments.map((d) => `  - {model_group: g, ${d}}\n`).join('')}`;
}

describe('model catalog defaults', () => {
  it('a deployment with only provider and provider_model is priced and sized from the catalog', () => {
    const c = parseConfig(
      routerYaml(
        'name: oai, provider: openai, provider_model: gpt-4o',
        'name: az, provider: azure-openai, provider_model: gpt-4o-mini',
        'name: claude, provider: anthropic, provider_model: claude-3-5-haiku-20241022',
        'name: flash, provider: gemini, provider_model: gemini-2.0-flash',
        `name: nova, provider: bedrock, provider_model: amazon.nova-pro-v1:0, ${AWS}`,
      ),
      'router.yaml',
      {},
    );
    const figures = (name: string) => {
      const d = c.deployments.get(name)!;
      return { price: d.price, contextWindow: d.contextWindow };
    };
    // OpenAI's published list prices, in nano-USD per token ($/1M × 1000).
    expect(figures('oai')).toEqual({ price: { inputNanosPerToken: 2500, cachedInputNanosPerToken: 1250, outputNanosPerToken: 10_000 }, contextWindow: 128_000 });
    expect(figures('az')).toEqual({ price: { inputNanosPerToken: 150, cachedInputNanosPerToken: 75, outputNanosPerToken: 600 }, contextWindow: 128_000 });
    // A dated Anthropic id finds its model.
    expect(figures('claude')).toEqual({ price: { inputNanosPerToken: 800, cachedInputNanosPerToken: 80, outputNanosPerToken: 4000 }, contextWindow: 200_000 });
    expect(figures('flash')).toEqual({ price: { inputNanosPerToken: 100, cachedInputNanosPerToken: 25, outputNanosPerToken: 400 }, contextWindow: 1_000_000 });
    expect(figures('nova')).toEqual({ price: { inputNanosPerToken: 800, cachedInputNanosPerToken: 200, outputNanosPerToken: 3200 }, contextWindow: 300_000 });
    // The smallest window decides when prompts are counted up front.
    expect(c.countTokensAbove).toBe(128_000);
  });

  it("router.yaml's price and context_window override the catalog's, each on its own", () => {
    const c = parseConfig(
      routerYaml(
        'name: negotiated, provider: openai, provider_model: gpt-4o, price: {input_per_million: 2, output_per_million: 8}',
        'name: capped, provider: openai, provider_model: gpt-4o, context_window: 32000',
      ),
      'router.yaml',
      {},
    );
    // A price given replaces the catalog's whole: cached input at the input price, as without a catalog.
    expect(c.deployments.get('negotiated')!.price).toEqual({ inputNanosPerToken: 2000, cachedInputNanosPerToken: 2000, outputNanosPerToken: 8000 });
    expect(c.deployments.get('negotiated')!.contextWindow).toBe(128_000);
    expect(c.deployments.get('capped')!.price.inputNanosPerToken).toBe(2500);
    expect(c.deployments.get('capped')!.contextWindow).toBe(32_000);
  });

  it('a model the catalog lacks must give both, each reported with its path and line', () => {
    const yaml = routerYaml(
      'name: known, provider: openai, provider_model: gpt-4o',
      'name: tuned, provider: openai, provider_model: ft:gpt-4o:acme:x1',
      'name: local, provider: vllm, provider_model: llama-3-8b, context_window: 8192',
    );
    expect(problems(yaml)).toEqual([
      '5:deployments[1].price: required: the model catalog has no entry for openai model "ft:gpt-4o:acme:x1"',
      '5:deployments[1].context_window: required: the model catalog has no entry for openai model "ft:gpt-4o:acme:x1"',
      '6:deployments[2].price: required: the model catalog has no entry for vllm model "llama-3-8b"',
    ]);
  });

  it('a catalog entry without a context window asks for that field alone', () => {
    expect(problems(routerYaml('name: pro, provider: gemini, provider_model: gemini-2.5-pro'))).toEqual([
      '4:deployments[0].context_window: required: the model catalog has no context_window for gemini model "gemini-2.5-pro"',
    ]);
  });

  it('takes the price in force on the day the config is loaded', () => {
    // OpenAI cut o3's price on 2025-06-10.
    expect(catalogEntry('openai', 'o3', new Date('2025-06-01T00:00:00Z'))!.price).toEqual({ input_per_million: 10, output_per_million: 40, cached_input_per_million: 0.5 });
    expect(catalogEntry('openai', 'o3', new Date('2025-06-11T00:00:00Z'))!.price).toEqual({ input_per_million: 2, output_per_million: 8, cached_input_per_million: 0.5 });
    expect(catalogEntry('openai-compatible', 'gpt-4o')).toBeNull();
  });
});

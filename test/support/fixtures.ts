import { ConfigError, parseConfig } from '../../src/config/load.js';
import { PromptTokenCounter } from '../../src/routing/tokens.js';
import type { PolicyEnv, RouteRequest } from '../../src/routing/types.js';
import type { PipelineEnv } from '../../src/pipeline/pipeline.js';

export const ROUTER_YAML = `
model_groups:
  - name: gpt-4o-mini
  - name: gpt-4o
deployments:
  - name: mini-a
    provider: openai
    model_group: gpt-4o-mini
    provider_model: gpt-4o-mini-2024-07-18
    weight: 3
    price: {input_per_million: 0.15, cached_input_per_million: 0.075, output_per_million: 0.6}
    context_window: 128000
    api_key_env: MINI_A_KEY
  - name: mini-b
    provider: azure-openai
    model_group: gpt-4o-mini
    provider_model: gpt-4o-mini
    weight: 1
    price: {input_per_million: 0.15, output_per_million: 0.6}
    context_window: 128000
  - name: big
    provider: openai
    model_group: gpt-4o
    provider_model: gpt-4o
    price: {input_per_million: 2.5, output_per_million: 10}
    context_window: 128000
`;

export const config = (env: NodeJS.ProcessEnv = { MINI_A_KEY: 'sk-mini-a' }) => parseConfig(ROUTER_YAML, 'router.yaml', env);

/** router.yaml's problems as `line:path: message`; throws when it has none. */
export function configProblems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'router.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.line}:${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** A fixed clock, a scripted sequence of random numbers (cycled), an event loop that never lags, and work after a reply done at once. */
export function fixedEnv(randoms: number[] = [0.5], nowMs = Date.UTC(2026, 10, 22, 12)): PipelineEnv {
  let i = 0;
  return { now: () => nowMs, random: () => randoms[i++ % randoms.length]!, eventLoopLagMs: () => 0, afterReply: (task) => task() };
}

/** The request as the pipeline routes it once its prompt is counted (whole: no budget). The tokenizer must be loaded. */
export function counted(req: RouteRequest): RouteRequest {
  const counter = new PromptTokenCounter(req.prompt);
  while (counter.step());
  return { ...req, promptTokensCounted: counter.tokens() };
}

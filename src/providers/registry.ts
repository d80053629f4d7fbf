/** Every provider the router can call, by the name router.yaml's `deployments[].provider` gives it. */
import type { ProviderAdapter } from './adapter.js';
import { anthropic } from './anthropic/adapter.js';
import { azureOpenAi } from './azure-openai/adapter.js';
import { bedrock } from './bedrock/adapter.js';
import { gemini } from './gemini/adapter.js';
import { openAi } from './openai/adapter.js';

export const PROVIDERS = {
  openai: openAi,
  'azure-openai': azureOpenAi,
  vllm: openAi,
  'openai-compatible': openAi,
  anthropic,
  gemini,
  bedrock,
} as const satisfies Readonly<Record<string, ProviderAdapter>>;

export type ProviderName = keyof typeof PROVIDERS;
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as [ProviderName, ...ProviderName[]];

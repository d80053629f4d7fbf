/**
 * The request parameters Anthropic's Messages API accepts, with their JSON types. Derived from the
 * `@anthropic-ai/sdk` types (anthropics/anthropic-sdk-typescript 0.120.0, commit bfa9197,
 * 2026-08-19): `MessageCreateParamsBase` and `MessageCountTokensParams` in
 * `src/resources/messages/messages.ts`; both sets checked against the pinned dev dependency
 * (1.14.0), which added `diagnostics`, `speed` and `workspace_id` (it no longer lists `temperature`,
 * `top_k` and `top_p`, which the API still takes for the models that have them). Regenerate when
 * Anthropic adds one.
 */
import type { JsonType } from '../wire.js';

export const MESSAGE_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  max_tokens: ['integer'],
  messages: ['array'],
  model: ['string'],
  cache_control: ['object', 'null'],
  container: ['object', 'string', 'null'],
  diagnostics: ['object', 'null'],
  inference_geo: ['string', 'null'],
  metadata: ['object'],
  output_config: ['object'],
  service_tier: ['string'],
  speed: ['string', 'null'],
  stop_sequences: ['array'],
  stream: ['boolean'],
  system: ['string', 'array'],
  temperature: ['number'],
  thinking: ['object'],
  tool_choice: ['object'],
  tools: ['array'],
  top_k: ['integer'],
  top_p: ['number'],
  user_profile_id: ['string'],
  workspace_id: ['string'],
};

export const COUNT_TOKENS_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  messages: ['array'],
  model: ['string'],
  cache_control: ['object', 'null'],
  output_config: ['object'],
  speed: ['string', 'null'],
  system: ['string', 'array'],
  thinking: ['object'],
  tool_choice: ['object'],
  tools: ['array'],
  user_profile_id: ['string'],
  workspace_id: ['string'],
};

/** The `anthropic-version` values the API accepts (docs.anthropic.com/en/api/versioning). */
export const VERSIONS: ReadonlySet<string> = new Set(['2023-06-01', '2023-01-01']);

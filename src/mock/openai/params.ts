/**
 * The request parameters OpenAI accepts, with the JSON types each may have. Derived from
 * openai/openai-openapi `openapi.yaml` (commit f85dbe2, 2026-08-21): `CreateChatCompletionRequest`
 * (with `CreateModelResponseProperties` merged in), `CreateCompletionRequest` and
 * `CreateEmbeddingRequest`; the chat set equals `ChatCompletionCreateParamsBase` of the `openai` npm
 * package 6.49.0, the completions set its `CompletionCreateParamsBase`. Regenerate when OpenAI adds one.
 */
import type { JsonType } from '../wire.js';

export const CHAT_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  messages: ['array'],
  model: ['string'],
  audio: ['object', 'null'],
  frequency_penalty: ['number', 'null'],
  function_call: ['string', 'object'],
  functions: ['array'],
  logit_bias: ['object', 'null'],
  logprobs: ['boolean', 'null'],
  max_completion_tokens: ['integer', 'null'],
  max_tokens: ['integer', 'null'],
  metadata: ['object', 'null'],
  modalities: ['array', 'null'],
  moderation: ['object', 'null'],
  n: ['integer', 'null'],
  parallel_tool_calls: ['boolean'],
  prediction: ['object', 'null'],
  presence_penalty: ['number', 'null'],
  prompt_cache_key: ['string', 'null'],
  prompt_cache_options: ['object'],
  prompt_cache_retention: ['string', 'null'],
  reasoning_effort: ['string', 'null'],
  response_format: ['object'],
  safety_identifier: ['string', 'null'],
  seed: ['integer', 'null'],
  service_tier: ['string', 'null'],
  stop: ['string', 'array', 'null'],
  store: ['boolean', 'null'],
  stream: ['boolean', 'null'],
  stream_options: ['object', 'null'],
  temperature: ['number', 'null'],
  tool_choice: ['string', 'object'],
  tools: ['array'],
  top_logprobs: ['integer', 'null'],
  top_p: ['number', 'null'],
  user: ['string'],
  verbosity: ['string', 'null'],
  web_search_options: ['object'],
};

export const EMBEDDING_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  input: ['string', 'array'],
  model: ['string'],
  dimensions: ['integer'],
  encoding_format: ['string'],
  user: ['string'],
};

export const COMPLETION_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  model: ['string'],
  prompt: ['string', 'array', 'null'],
  best_of: ['integer', 'null'],
  echo: ['boolean', 'null'],
  frequency_penalty: ['number', 'null'],
  logit_bias: ['object', 'null'],
  logprobs: ['integer', 'null'],
  max_tokens: ['integer', 'null'],
  n: ['integer', 'null'],
  presence_penalty: ['number', 'null'],
  seed: ['integer', 'null'],
  stop: ['string', 'array', 'null'],
  stream: ['boolean', 'null'],
  stream_options: ['object', 'null'],
  suffix: ['string', 'null'],
  temperature: ['number', 'null'],
  top_p: ['number', 'null'],
  user: ['string'],
};

/** The integer ranges `CreateCompletionRequest` sets (`minimum` / `maximum`). */
export const COMPLETION_RANGES: Readonly<Record<string, readonly [min: number, max: number]>> = {
  best_of: [0, 20],
  logprobs: [0, 5],
  max_tokens: [0, Number.MAX_SAFE_INTEGER],
  n: [1, 128],
};

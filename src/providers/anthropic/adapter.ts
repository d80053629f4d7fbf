/**
 * Anthropic's Messages API for OpenAI clients: `POST /v1/messages` with `x-api-key` and
 * `anthropic-version`. Envoy buffers the request in OpenAI's format; each attempt at an Anthropic
 * deployment translates it in its own filter (request.ts), and the answer — JSON, a stream, or an
 * error — comes back in OpenAI's format (observe.ts).
 */
import type { ProviderAdapter } from '../adapter.js';
import { FORWARDED_HEADERS, rewriteBody } from '../openai/adapter.js';
import { fallbackReasonOf, openAiStatusOf } from './errors.js';
import { observeResponse } from './observe.js';
import { RATE_LIMIT_HEADERS, rateLimitsOf } from './rate-limit-headers.js';
import { fromOpenAiRequest } from './request.js';

/** The API version every current model is served under. */
export const ANTHROPIC_VERSION = '2023-06-01';

export const anthropic: ProviderAdapter = {
  defaults: { basePath: () => '/v1', query: {}, auth: 'x-api-key', headers: { 'anthropic-version': ANTHROPIC_VERSION } },
  native: 'anthropic',
  // What the Anthropic SDKs send besides OpenAI's: the beta features a client opts in to.
  forwardedHeaders: [...FORWARDED_HEADERS, 'anthropic-beta'],
  paths: { chat: '/messages', 'chat-stream': '/messages', embeddings: null, completions: null, count_tokens: '/messages/count_tokens' },
  rewriteBody,
  translate: (body, providerModel) => fromOpenAiRequest(body, { model: providerModel }),
  clientStatus: openAiStatusOf,
  observeResponse: (contentType, hideUsageEvent, nowMs) => observeResponse(contentType, hideUsageEvent, Math.floor(nowMs / 1000)),
  fallbackReasonOf,
  rateLimitsOf,
  rateLimitHeaders: RATE_LIMIT_HEADERS,
};

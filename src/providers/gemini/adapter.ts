/**
 * Google's Gemini API (`generateContent`) for OpenAI clients: the model and whether the answer
 * streams are in the path, the key in `x-goog-api-key`. Each attempt translates the OpenAI request
 * in its own filter (request.ts); answers come back in OpenAI's format (observe.ts). Gemini's
 * OpenAI-compatible endpoint needs none of this: `provider: openai-compatible` (docs/providers.md).
 */
import type { ProviderAdapter } from '../adapter.js';
import { FORWARDED_HEADERS, rewriteBody } from '../openai/adapter.js';
import { GEMINI_AUTH, GEMINI_BASE_PATH, GENERATE_METHOD, STREAM_METHOD, STREAM_QUERY } from './endpoint.js';
import { fallbackReasonOf } from './errors.js';
import { observeResponse } from './observe.js';
import { fromOpenAiRequest } from './request.js';

export const gemini: ProviderAdapter = {
  defaults: { basePath: (model) => `${GEMINI_BASE_PATH}/models/${encodeURIComponent(model)}`, query: {}, auth: GEMINI_AUTH, headers: {} },
  native: null,
  forwardedHeaders: FORWARDED_HEADERS,
  paths: { chat: GENERATE_METHOD, 'chat-stream': `${STREAM_METHOD}?alt=${STREAM_QUERY.alt}`, embeddings: null, completions: null, count_tokens: null },
  rewriteBody,
  // The model is in the path.
  translate: (body) => fromOpenAiRequest(body),
  clientStatus: (status) => status,
  observeResponse: (contentType, hideUsageEvent, nowMs) => observeResponse(contentType, hideUsageEvent, Math.floor(nowMs / 1000)),
  fallbackReasonOf,
  // Gemini reports no limits in its headers: a 429 RESOURCE_EXHAUSTED is all it says.
  rateLimitsOf: () => null,
  rateLimitHeaders: [],
};

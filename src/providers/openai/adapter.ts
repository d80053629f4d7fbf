/**
 * OpenAI's wire format, spoken by OpenAI itself and by every OpenAI-compatible server (vLLM,
 * Ollama, Groq, Mistral, DeepSeek, Gemini's compatible endpoint); Azure OpenAI differs only in
 * where it is called and how it is authenticated (azure-openai/adapter.ts).
 */
import type { BodyRewrite, EndpointDefaults, ProviderAdapter, RequestToRewrite } from '../adapter.js';
import { spliced, type MemberEdits } from '../../json/splice.js';
import { editsRemovingRouterFields } from '../router-fields.js';
import { fallbackReasonOf } from './errors.js';
import { RATE_LIMIT_HEADERS, rateLimitsOf } from './rate-limit-headers.js';
import { observeResponse } from './response.js';

/**
 * What an OpenAI-style API needs or an SDK sends harmlessly: the body's type and length, what the
 * client accepts, who it is (`user-agent`, the OpenAI SDKs' `x-stainless-*` telemetry: language,
 * version, retry count, timeout) and W3C trace context, so a provider's trace joins the caller's.
 * Not `accept-encoding` (the router reads usage from the response, which must not be compressed).
 */
export const FORWARDED_HEADERS = ['content-type', 'content-length', 'accept', 'user-agent', 'x-stainless-*', 'traceparent', 'tracestate'] as const;

const UNCHANGED: BodyRewrite = { body: null, hideUsageEvent: false };

/** A stream's usage report, asked for whatever else `stream_options` holds. */
const INCLUDE_USAGE: MemberEdits = { set: { include_usage: 'true' } };

/**
 * The client's body with the provider's model id, a usage report on streams (what the router
 * bills) and without the router's own fields — spliced into the client's bytes, and only when one
 * of them changes it.
 */
export function rewriteBody(req: RequestToRewrite, providerModel: string): BodyRewrite {
  const needsModel = req.body.model !== providerModel;
  const needsUsage = req.stream && !req.clientWantsUsage;
  if (!needsModel && !needsUsage && !req.routerFields) return UNCHANGED;
  const set: Record<string, string | MemberEdits> = {};
  if (needsModel) set.model = JSON.stringify(providerModel);
  if (needsUsage) set.stream_options = INCLUDE_USAGE;
  return { body: spliced(req.raw, editsRemovingRouterFields(set, req.routerFields)), hideUsageEvent: needsUsage };
}

/** An adapter for OpenAI's wire format at the given defaults. */
export function openAiWire(defaults: EndpointDefaults): ProviderAdapter {
  return {
    defaults,
    native: 'openai',
    forwardedHeaders: FORWARDED_HEADERS,
    paths: { chat: '/chat/completions', 'chat-stream': '/chat/completions', embeddings: '/embeddings', completions: '/completions', count_tokens: null },
    rewriteBody,
    translate: null,
    clientStatus: (status) => status,
    observeResponse,
    fallbackReasonOf,
    rateLimitsOf,
    rateLimitHeaders: RATE_LIMIT_HEADERS,
  };
}

/** OpenAI's API, and any server that serves it under `/v1` with a bearer token. */
export const openAi = openAiWire({ basePath: () => '/v1', query: {}, auth: 'bearer', headers: {} });

/**
 * AWS Bedrock's Converse API for OpenAI clients: `POST /model/{modelId}/converse` (or
 * `/converse-stream`, answered in AWS's binary eventstream), each attempt signed with SigV4 by the
 * router after its body is translated, since the signature covers the body, path and host
 * (docs/decisions.md: the router signs, not Envoy's aws_request_signing filter).
 */
import type { ProviderAdapter } from '../adapter.js';
import { FORWARDED_HEADERS, rewriteBody } from '../openai/adapter.js';
import { fallbackReasonOf } from './errors.js';
import { observeResponse } from './observe.js';
import { fromOpenAiRequest } from './request.js';
import { signRequest } from './sigv4.js';

const SIGNED_CONTENT_TYPE = ['content-type', 'application/json'] as const;

export const bedrock: ProviderAdapter = {
  defaults: { basePath: (model) => `/model/${encodeURIComponent(model)}`, query: {}, auth: 'aws-sigv4', headers: {} },
  native: null,
  forwardedHeaders: FORWARDED_HEADERS,
  paths: { chat: '/converse', 'chat-stream': '/converse-stream', embeddings: null, completions: null, count_tokens: null },
  rewriteBody,
  // The model and streaming are in the path.
  translate: (body) => fromOpenAiRequest(body),
  clientStatus: (status) => status,
  observeResponse: (contentType, hideUsageEvent, nowMs, providerModel) =>
    observeResponse(contentType, { hideUsageEvent, errorType: null, id: `chatcmpl-${nowMs.toString(36)}`, model: providerModel, createdSec: Math.floor(nowMs / 1000) }),
  fallbackReasonOf,
  // Bedrock reports no limits in its headers: a ThrottlingException (429) is all it says.
  rateLimitsOf: () => null,
  rateLimitHeaders: [],
  awsHostOf: (region) => `bedrock-runtime.${region}.amazonaws.com`,
  signerFor: (aws) => {
    const credentials = { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey, ...(aws.sessionToken === null ? {} : { sessionToken: aws.sessionToken }) };
    const scope = { region: aws.region, service: 'bedrock' };
    // The host and content type are signed: the attempt carries exactly these.
    const fixed = [[':authority', aws.host], SIGNED_CONTENT_TYPE] as const;
    return (path, body, nowMs) => [...fixed, ...signRequest({ method: 'POST', host: aws.host, path, body, headers: [SIGNED_CONTENT_TYPE] }, credentials, scope, nowMs)];
  },
};

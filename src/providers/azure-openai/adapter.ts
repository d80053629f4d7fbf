/**
 * Azure OpenAI: OpenAI's wire format at `/openai/deployments/{deployment}/…?api-version=…`, with
 * the key in an `api-key` header. The deployment's name defaults to its `provider_model`.
 */
import { openAiWire } from '../openai/adapter.js';

/** The latest GA version of the inference API that reports usage on streams (`stream_options`). */
export const AZURE_API_VERSION = '2024-10-21';

export const azureOpenAi = openAiWire({
  basePath: (deployment) => `/openai/deployments/${encodeURIComponent(deployment)}`,
  query: { 'api-version': AZURE_API_VERSION },
  auth: 'api-key',
  headers: {},
});

/**
 * Azure OpenAI's wire format: `POST /openai/deployments/{deployment}/chat/completions?api-version=…`
 * (and `/completions`, `/embeddings`) with an `api-key` header. The body, its checks and the answers are OpenAI's
 * (Azure answers body errors in OpenAI's shape), except that `model` is optional: the path names the
 * deployment. Azure's own errors are `{"error":{"code","message"}}`: 404 "Resource not found" for a
 * path it does not serve or a missing `api-version`, 400 "API version not supported", 404
 * `DeploymentNotFound`, 401 "Access denied due to invalid subscription key…" for a missing or wrong
 * `api-key`, and 401 with the Entra ID message for a Bearer token it cannot validate (an API key sent
 * as Bearer). Wording from answers quoted in public issue threads (MicrosoftDocs/azure-docs#114602,
 * openai/openai-python#362, SciSharp/BotSharp#386, run-llama/llama_index#12484, chatboxai/chatbox#861).
 */
import { checkOpenaiBody, openaiAnswer, openaiLimitError, openaiScriptedError } from '../openai/format.js';
import { retryAfterOf, type LimitReport } from '../rate-limit.js';
import type { Rejection, WireFormat } from '../wire.js';

/**
 * Azure reports only what is left (`x-ratelimit-remaining-{requests,tokens}`: no limit, no reset),
 * and `retry-after` with `retry-after-ms` on a 429.
 */
function azureLimitHeaders(r: LimitReport): Record<string, string> {
  const headers = retryAfterOf(r);
  if (r.refused) headers['retry-after-ms'] = String(r.resetInMs);
  if (r.requests !== null) headers['x-ratelimit-remaining-requests'] = String(r.requests.remaining);
  if (r.tokens !== null) headers['x-ratelimit-remaining-tokens'] = String(r.tokens.remaining);
  return headers;
}

/**
 * The data-plane inference versions published in Azure/azure-rest-api-specs
 * (`specification/cognitiveservices/data-plane/AzureOpenAI/inference/{stable,preview}/`, checked
 * 2026-08-22). Only versions seen there; add one when a deployment needs it.
 */
export const API_VERSIONS: ReadonlySet<string> = new Set([
  '2022-12-01',
  '2023-05-15',
  '2024-02-01',
  '2024-06-01',
  '2024-10-21',
  '2023-12-01-preview',
  '2024-02-15-preview',
  '2024-03-01-preview',
  '2024-04-01-preview',
  '2024-12-01-preview',
  '2025-04-01-preview',
]);

const azureError = (status: number, code: string, message: string): Rejection => ({ status, body: { error: { code, message } } });

const NOT_FOUND = azureError(404, '404', 'Resource not found');
const PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;

/** The Azure format; `deployments` are the names the resource serves (any when absent). */
export function azureFormat(deployments: readonly string[] | undefined): WireFormat {
  return {
    route(req) {
      const match = PATH.exec(req.path);
      if (match === null || req.method !== 'POST') return NOT_FOUND;
      return match[2] === 'embeddings' ? 'embeddings' : match[2] === 'completions' ? 'completions' : 'chat';
    },
    checkRequest(req, expectedKey) {
      const key = req.headers['api-key'];
      if (key === undefined && /^Bearer /.test(req.headers.authorization ?? '')) {
        return azureError(401, '401', 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.');
      }
      if (key === undefined || key === '' || (expectedKey !== undefined && key !== expectedKey)) {
        return azureError(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');
      }
      const version = req.query.get('api-version');
      if (version === null) return NOT_FOUND;
      if (!API_VERSIONS.has(version)) return azureError(400, 'BadRequest', 'API version not supported');
      const deployment = decodeURIComponent(PATH.exec(req.path)![1]!);
      if (deployments !== undefined && !deployments.includes(deployment)) {
        return azureError(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
      }
      return null;
    },
    checkBody: (endpoint, body) => checkOpenaiBody(endpoint, body, false),
    error: openaiScriptedError,
    limitError: openaiLimitError,
    limitHeaders: azureLimitHeaders,
    answer: openaiAnswer,
  };
}

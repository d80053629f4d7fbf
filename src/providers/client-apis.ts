/**
 * The APIs clients call the gateway with: OpenAI's (chat completions, embeddings) and Anthropic's
 * Messages API. Routing works on OpenAI's form of a request; a request in another client API is
 * read into it, its errors and answers written back in the client's own format. A deployment whose
 * provider speaks the client's API natively takes the client's body as it is (only the model id and
 * the router's own fields change) and its answer goes back untranslated.
 */
import type { ClientApi } from '../routing/types.js';
import type { ResponseObserver } from './openai/response.js';
import { anthropicErrorOf, anthropicStatusOf, AnthropicRefusal } from './anthropic/inbound/errors.js';
import { observeForAnthropicClient } from './anthropic/inbound/observe.js';
import { checkMessagesRequest, toOpenAiRequest } from './anthropic/inbound/request.js';

/** A Messages `count_tokens` request checked as Anthropic checks it, in the shape the router counts (throws an AnthropicRefusal). */
export { countedFormOf as countedFormOfCountTokens } from './anthropic/inbound/count-tokens.js';

export type { ClientApi };

type Json = Record<string, unknown>;

/** A Messages request checked as Anthropic checks it, in OpenAI's form; throws an AnthropicRefusal. */
export function openAiFormOfMessages(body: unknown): Json {
  checkMessagesRequest(body);
  return toOpenAiRequest(body as Json);
}

/** A body in the client's API, already checked, in OpenAI's form. */
export const openAiFormOf = (api: ClientApi, body: Json): Json => (api === 'openai' ? body : toOpenAiRequest(body));

/** An error as the client's API writes it: `status` and the OpenAI-format body the router would send. */
export function clientError(api: ClientApi, status: number, openAiBody: unknown): { status: number; body: unknown } {
  return api === 'openai' ? { status, body: openAiBody } : anthropicErrorOf(status, openAiBody);
}

/** An error thrown in the client's own terms (a refused Messages request), or null. */
export function ownClientError(err: unknown): { status: number; body: unknown } | null {
  return err instanceof AnthropicRefusal ? { status: err.status, body: err.toJSON() } : null;
}

/** The status a client of `api` gets for the OpenAI status of an answer. */
export const clientStatusFor = (api: ClientApi, openAiStatus: number): number => (api === 'openai' ? openAiStatus : anthropicStatusOf(openAiStatus));

/**
 * What reads (and rewrites) an answer for a client of `api`. `own`: the deployment adapter's observer
 * (its answer in OpenAI's format); `native`: the deployment speaks the client's API, so the client
 * gets the provider's bytes and `own` only reads them for usage.
 */
export function observerFor(api: ClientApi, own: ResponseObserver | null, native: boolean, contentType: string, openAiStatus: number): ResponseObserver | null {
  if (api === 'openai') return own;
  if (native) return own === null ? null : readOnly(own);
  return observeForAnthropicClient(own, contentType, openAiStatus);
}

/** An observer's reading of a body that reaches the client unchanged. */
function readOnly(observer: ResponseObserver): ResponseObserver {
  return {
    push: (chunk, endOfStream) => {
      observer.push(chunk, endOfStream);
      return null;
    },
    report: () => observer.report(),
  };
}

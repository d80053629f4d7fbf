/**
 * Validates a chat-completions, text-completions, embeddings or token-count body for the fields the router acts on. It checks what
 * would otherwise fail at the provider after a paid-for round trip, with OpenAI's wording (`param`
 * names the field) so SDK users see familiar errors.
 */
import { RouterError } from '../errors.js';
import { countedFormOfCountTokens, openAiFormOfMessages, type ClientApi } from '../providers/client-apis.js';
import { hasRouterFields } from '../providers/router-fields.js';
import type { Endpoint } from '../routing/types.js';

export interface ApiRequest {
  readonly endpoint: Endpoint;
  /**
   * The API the client called: OpenAI's, or Anthropic's Messages API (`body` is then its OpenAI
   * form, or for a token count the shape the router counts).
   */
  readonly api: ClientApi;
  /** The body as the client sent it, parsed: `body` itself for OpenAI's API. */
  readonly clientBody: Record<string, unknown>;
  readonly model: string;
  readonly stream: boolean;
  /** The client's own `stream_options.include_usage`, so we know whether it wants the usage chunk. */
  readonly clientWantsUsage: boolean;
  /** `disable_fallbacks: true`: no other deployment may answer; removed before the body goes upstream. */
  readonly disableFallbacks: boolean;
  /** The body holds fields for the router alone, removed before it goes upstream (providers/router-fields.ts). */
  readonly routerFields: boolean;
  readonly body: Record<string, unknown>;
}

/** `n`: OpenAI's own limit. */
export const MAX_CHOICES = 128;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function positiveInteger(body: Record<string, unknown>, field: string): void {
  const v = body[field];
  if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) > 0)) {
    throw new RouterError('invalid_request', `Invalid '${field}': expected a positive integer.`, field);
  }
}

/** An integer in [min, max] when set. */
function integerIn(body: Record<string, unknown>, field: string, min: number, max: number): void {
  const v = body[field];
  if (v === undefined || v === null) return;
  if (!Number.isInteger(v)) throw new RouterError('invalid_request', `Invalid type for '${field}': expected an integer.`, field);
  if ((v as number) < min) throw new RouterError('invalid_request', `Invalid '${field}': integer below minimum value. Expected a value >= ${min}, but got ${v as number} instead.`, field);
  if ((v as number) > max) throw new RouterError('invalid_request', `Invalid '${field}': integer above maximum value. Expected a value <= ${max}, but got ${v as number} instead.`, field);
}

/** `stream` and `stream_options`, checked: whether it streams and whether the client wants the usage chunk. */
function streamingOf(body: Record<string, unknown>): { stream: boolean; clientWantsUsage: boolean } {
  const { stream, stream_options: streamOptions } = body;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new RouterError('invalid_request', "Invalid type for 'stream': expected a boolean.", 'stream');
  }
  if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions)) {
    throw new RouterError('invalid_request', "Invalid type for 'stream_options': expected an object.", 'stream_options');
  }
  return { stream: stream === true, clientWantsUsage: isObject(streamOptions) && streamOptions.include_usage === true };
}

/** The body as a JSON object with a model name, or the error a client should see. */
function parseBody(text: string): Record<string, unknown> & { model: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new RouterError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(body)) throw new RouterError('invalid_request', 'The request body must be a JSON object.');
  const model = body.model;
  if (model === undefined) throw new RouterError('invalid_request', "Missing required parameter: 'model'.", 'model');
  if (typeof model !== 'string' || model.length === 0) {
    throw new RouterError('invalid_request', "Invalid type for 'model': expected a non-empty string.", 'model');
  }
  return body as Record<string, unknown> & { model: string };
}

function disableFallbacksOf(body: Record<string, unknown>): boolean {
  const v = body.disable_fallbacks;
  if (v !== undefined && v !== null && typeof v !== 'boolean') {
    throw new RouterError('invalid_request', "Invalid type for 'disable_fallbacks': expected a boolean.", 'disable_fallbacks');
  }
  return v === true;
}

/** `text`: the body as json-body.ts `readBody` let it through. */
export function parseChatRequest(text: string): ApiRequest {
  return chatRequestOf(parseBody(text));
}

/**
 * An Anthropic Messages request (`POST /v1/messages`): checked as Anthropic checks it (an
 * AnthropicRefusal otherwise), then read in its OpenAI form, which routing and every
 * non-Anthropic deployment use.
 */
export function parseMessagesRequest(text: string): ApiRequest {
  const clientBody = parseBody(text);
  const openAi = chatRequestOf({ ...openAiFormOfMessages(clientBody), model: clientBody.model });
  // The router's own fields are the client's, whichever form is read.
  return { ...openAi, api: 'anthropic', clientBody, disableFallbacks: disableFallbacksOf(clientBody), routerFields: hasRouterFields(clientBody) };
}

/**
 * A Messages `count_tokens` request (`POST /v1/messages/count_tokens`): checked as Anthropic checks
 * it (an AnthropicRefusal otherwise); `body` is the shape the router counts, never sent upstream.
 */
export function parseCountTokensRequest(text: string): ApiRequest {
  const clientBody = parseBody(text);
  const counted = countedFormOfCountTokens(clientBody);
  // A count has no fallback: it is answered by one Anthropic deployment or by the router.
  return { endpoint: 'count_tokens', api: 'anthropic', clientBody, model: counted.model, stream: false, clientWantsUsage: false, disableFallbacks: true, routerFields: hasRouterFields(clientBody), body: counted };
}

function chatRequestOf(body: Record<string, unknown> & { model: string }): ApiRequest {
  const { model, messages } = body;
  if (messages === undefined) throw new RouterError('invalid_request', "Missing required parameter: 'messages'.", 'messages');
  if (!Array.isArray(messages)) throw new RouterError('invalid_request', "Invalid type for 'messages': expected an array.", 'messages');
  if (messages.length === 0) throw new RouterError('invalid_request', "Invalid 'messages': empty array. Expected at least one message.", 'messages');
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObject(m) || typeof m.role !== 'string') {
      throw new RouterError('invalid_request', `Invalid 'messages[${i}]': expected an object with a string 'role'.`, `messages[${i}]`);
    }
  }
  const streaming = streamingOf(body);
  positiveInteger(body, 'max_tokens');
  positiveInteger(body, 'max_completion_tokens');
  positiveInteger(body, 'n');
  // Each choice may use max_tokens: admission reserves n of them, and OpenAI takes no more than 128.
  if (typeof body.n === 'number' && body.n > MAX_CHOICES) {
    throw new RouterError('invalid_request', `Invalid 'n': integer above maximum value. Expected a value <= ${MAX_CHOICES}, but got ${body.n} instead.`, 'n');
  }
  return {
    endpoint: 'chat',
    api: 'openai',
    clientBody: body,
    model,
    ...streaming,
    disableFallbacks: disableFallbacksOf(body),
    routerFields: hasRouterFields(body),
    body,
  };
}

const isTokenArray = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && t >= 0);

/** Most candidates `best_of` may ask for (OpenAI's limit). */
export const MAX_BEST_OF = 20;

/**
 * A legacy text-completions request (`POST /v1/completions`, `CreateCompletionRequest`): `prompt` a
 * string, an array of strings, an array of token ids or an array of token-id arrays (null: the
 * model starts a new document); `max_tokens` may be 0 (with `echo`, the prompt's logprobs alone);
 * `best_of` candidates, each billed, and at least `n` of them.
 */
export function parseCompletionsRequest(text: string): ApiRequest {
  const body = parseBody(text);
  const prompt = body.prompt;
  if (prompt === undefined) throw new RouterError('invalid_request', "Missing required parameter: 'prompt'.", 'prompt');
  const valid =
    prompt === null ||
    typeof prompt === 'string' ||
    (Array.isArray(prompt) && prompt.length > 0 && (prompt.every((p) => typeof p === 'string') || isTokenArray(prompt) || prompt.every(isTokenArray)));
  if (!valid) {
    throw new RouterError('invalid_request', "Invalid 'prompt': expected a string, array of strings, array of token ids, or array of token-id arrays.", 'prompt');
  }
  const streaming = streamingOf(body);
  integerIn(body, 'max_tokens', 0, Number.MAX_SAFE_INTEGER);
  integerIn(body, 'n', 1, MAX_CHOICES);
  integerIn(body, 'best_of', 0, MAX_BEST_OF);
  if (typeof body.best_of === 'number' && body.best_of < ((body.n as number | null | undefined) ?? 1)) {
    throw new RouterError('invalid_request', "Invalid 'best_of': must be at least 'n'.", 'best_of');
  }
  return { endpoint: 'completions', api: 'openai', clientBody: body, model: body.model, ...streaming, disableFallbacks: disableFallbacksOf(body), routerFields: hasRouterFields(body), body };
}

/** `input`: a string, an array of strings, an array of token ids, or an array of those arrays — none empty. */
export function parseEmbeddingsRequest(text: string): ApiRequest {
  const body = parseBody(text);
  const input = body.input;
  if (input === undefined) throw new RouterError('invalid_request', "Missing required parameter: 'input'.", 'input');
  const valid =
    (typeof input === 'string' && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && (input.every((t) => typeof t === 'string' && t.length > 0) || isTokenArray(input) || input.every(isTokenArray)));
  if (!valid) {
    throw new RouterError('invalid_request', "Invalid 'input': expected a non-empty string, array of strings, array of token ids, or array of token-id arrays.", 'input');
  }
  positiveInteger(body, 'dimensions');
  return { endpoint: 'embeddings', api: 'openai', clientBody: body, model: body.model, stream: false, clientWantsUsage: false, disableFallbacks: disableFallbacksOf(body), routerFields: hasRouterFields(body), body };
}

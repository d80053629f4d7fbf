/**
 * OpenAI's wire format: `POST /v1/chat/completions` (JSON, or SSE chunks ending in `data: [DONE]`,
 * with a usage chunk when `stream_options.include_usage` is set), the legacy `POST /v1/completions`
 * (the same, in `text_completion` objects: completions.ts) and `POST /v1/embeddings`, with
 * `Authorization: Bearer <key>`. Error bodies are `{"error":{"message","type","param","code"}}`
 * with OpenAI's own wording (seen in answers quoted in public issue threads; the parameter set is
 * the published spec, `params.ts`). A tool call (to the first function tool, or the one
 * `tool_choice` names) follows the text when the request offers tools and does not answer one.
 */
import { formatDuration } from '../../providers/openai/rate-limit-headers.js';
import { embeddingsResponse } from '../embeddings.js';
import { retryAfterOf, type LimitCount, type LimitReport } from '../rate-limit.js';
import { NO_USAGE, auditParams, contentChars, tokensOfChars, type Answer, type AnswerContext, type Endpoint, type JsonType, type Rejection, type WireFormat, type WireRequest } from '../wire.js';
import { completionsAnswer } from './completions.js';
import { CHAT_PARAMS, COMPLETION_PARAMS, COMPLETION_RANGES, EMBEDDING_PARAMS } from './params.js';

/** OpenAI's error body. */
export function openaiError(status: number, message: string, param: string | null = null, code: string | null = null, type = 'invalid_request_error'): Rejection {
  return { status, body: { error: { message, type, param, code } } };
}

const NO_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

const BAD_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/** How OpenAI shows a wrong key: its first 8 and last 4 characters around asterisks (short keys whole). */
export function maskKey(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : key;
}

const TYPE_NAMES: Readonly<Record<JsonType, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a decimal',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
  null: 'null',
};

const invalidType = (param: string, expected: JsonType, actual: JsonType): Rejection =>
  openaiError(400, `Invalid type for '${param}': expected ${TYPE_NAMES[expected]}, but got ${TYPE_NAMES[actual]} instead.`, param, 'invalid_type');

const missing = (param: string): Rejection => openaiError(400, `Missing required parameter: '${param}'.`, param, 'missing_required_parameter');

const PARAMS: Readonly<Record<Endpoint, Readonly<Record<string, readonly JsonType[]>>>> = { chat: CHAT_PARAMS, completions: COMPLETION_PARAMS, embeddings: EMBEDDING_PARAMS, count_tokens: {} };
const REQUIRED: Readonly<Record<Endpoint, string>> = { chat: 'messages', completions: 'prompt', embeddings: 'input', count_tokens: 'model' };

/** A completions request's integers out of their range, with the wording OpenAI gives `n` out of its own. */
function outOfRange(fields: Readonly<Record<string, unknown>>): Rejection | null {
  for (const [param, [min, max]] of Object.entries(COMPLETION_RANGES)) {
    const v = fields[param];
    if (typeof v !== 'number') continue;
    if (v < min) return openaiError(400, `Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${v} instead.`, param, 'integer_below_min_value');
    if (v > max) return openaiError(400, `Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${v} instead.`, param, 'integer_above_max_value');
  }
  const n = typeof fields.n === 'number' ? fields.n : 1;
  if (typeof fields.best_of === 'number' && fields.best_of < n) return openaiError(400, "'best_of' must be greater than or equal to 'n'.", 'best_of');
  if (fields.stream === true && typeof fields.best_of === 'number' && fields.best_of > 1) return openaiError(400, "Cannot stream results with 'best_of' greater than 1.", 'best_of');
  return null;
}
/** The checks OpenAI makes on a body, in its order; `modelRequired` is false for Azure (the deployment names it). */
export function checkOpenaiBody(endpoint: Endpoint, body: unknown, modelRequired: boolean): Rejection | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return openaiError(400, BAD_JSON);
  const fields = body as Record<string, unknown>;
  const { unknown, mistyped } = auditParams(fields, PARAMS[endpoint]);
  if (unknown.length === 1) return openaiError(400, `Unrecognized request argument supplied: ${unknown[0]}`);
  if (unknown.length > 1) return openaiError(400, `Unrecognized request arguments supplied: ${unknown.join(', ')}`);
  if (modelRequired && fields.model === undefined) return openaiError(400, 'you must provide a model parameter');
  const required = REQUIRED[endpoint];
  if (fields[required] === undefined) return missing(required);
  if (mistyped !== null) return invalidType(mistyped.key, mistyped.expected.find((t) => t !== 'null')!, mistyped.actual);
  if (endpoint === 'completions') return streamOptionsWithoutStream(fields) ?? outOfRange(fields);
  if (endpoint !== 'chat') return null;
  const messages = fields.messages as unknown[];
  if (messages.length === 0) {
    return openaiError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages', 'empty_array');
  }
  for (const [i, m] of messages.entries()) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return invalidType(`messages[${i}]`, 'object', m === null ? 'null' : Array.isArray(m) ? 'array' : (typeof m as JsonType));
    if ((m as { role?: unknown }).role === undefined) return missing(`messages[${i}].role`);
  }
  return streamOptionsWithoutStream(fields);
}

function streamOptionsWithoutStream(fields: Readonly<Record<string, unknown>>): Rejection | null {
  if (fields.stream_options == null || fields.stream === true) return null;
  return openaiError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
}

interface ToolCall {
  readonly id: string;
  readonly name: string;
}

/** The function the mock calls: the one `tool_choice` names, else the first; none when the last message answers a call or tools are off. */
function toolCallFor(body: Readonly<Record<string, unknown>>, id: string): ToolCall | null {
  const tools = Array.isArray(body.tools) ? (body.tools as Array<{ type?: unknown; function?: { name?: unknown } }>) : [];
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: unknown }>) : [];
  if (tools.length === 0 || body.tool_choice === 'none' || messages.at(-1)?.role === 'tool') return null;
  const chosen = (body.tool_choice as { function?: { name?: unknown } } | undefined)?.function?.name;
  const name = typeof chosen === 'string' ? chosen : tools.find((t) => t?.type === 'function')?.function?.name;
  return typeof name === 'string' ? { id: `call_${id.replace(/-/g, '_')}`, name } : null;
}

function chatAnswer(body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer {
  const b = ctx.behaviour;
  const id = `chatcmpl-mock-${ctx.instance}-${ctx.sequence}`;
  const model = typeof body.model === 'string' ? body.model : 'mock-model';
  let chars = 0;
  if (Array.isArray(body.messages)) for (const m of body.messages as Array<{ content?: unknown }>) chars += contentChars(m?.content);
  const promptTokens = tokensOfChars(chars);
  const tool = toolCallFor(body, id);
  const completionTokens = b.chunks + (tool === null ? 0 : 1);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
  const reported = { promptTokens, completionTokens };
  const finishReason = tool === null ? 'stop' : 'tool_calls';
  const toolCall = (withIndex: boolean) => ({ ...(withIndex ? { index: 0 } : {}), id: tool!.id, type: 'function', function: { name: tool!.name, arguments: '{}' } });

  if (body.stream !== true) {
    const content = Array.from({ length: b.chunks }, (_, i) => ctx.word(i)).join('');
    const message = { role: 'assistant', content, refusal: null, ...(tool === null ? {} : { tool_calls: [toolCall(false)] }) };
    return {
      kind: 'json',
      usage: reported,
      reportsUsage: true,
      body: { id, object: 'chat.completion', created: ctx.createdSec, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }], usage, system_fingerprint: null },
    };
  }
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const frame = (choices: unknown[], chunkUsage?: unknown): string => {
    const chunk: Record<string, unknown> = { id, object: 'chat.completion.chunk', created: ctx.createdSec, model, system_fingerprint: null, choices };
    if (includeUsage) chunk.usage = chunkUsage ?? null;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  };
  const delta = (d: unknown, finish: string | null = null) => [{ index: 0, delta: d, logprobs: null, finish_reason: finish }];
  return {
    kind: 'stream',
    usage: reported,
    reportsUsage: includeUsage,
    script: {
      head: [frame(delta({ role: 'assistant', content: '' }))],
      chunk: (i) => frame(delta({ content: ctx.word(i) })),
      tail: [
        ...(tool === null ? [] : [frame(delta({ tool_calls: [toolCall(true)] }))]),
        frame(delta({}, finishReason)),
        ...(includeUsage ? [frame([], usage)] : []),
      ],
      end: 'data: [DONE]\n\n',
    },
  };
}

/** The answer to a chat, completions or embeddings request, shared by OpenAI and Azure OpenAI. */
export function openaiAnswer(endpoint: Endpoint, body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer {
  if (endpoint === 'completions') return completionsAnswer(body, ctx);
  if (endpoint !== 'embeddings') return chatAnswer(body, ctx);
  const answer = embeddingsResponse(body);
  if (answer === null) {
    return { kind: 'json', status: 400, usage: NO_USAGE, reportsUsage: false, body: openaiError(400, "'input' must be a string or an array of strings", 'input').body };
  }
  return { kind: 'json', usage: { promptTokens: answer.usage.prompt_tokens, completionTokens: 0 }, reportsUsage: true, body: answer };
}

/** OpenAI's error body for a status the behaviour asks for. */
export function openaiScriptedError(status: number, message: string, code: string | undefined): Rejection {
  return openaiError(status, message, null, code ?? null, status < 500 ? 'invalid_request_error' : 'server_error');
}

/** OpenAI's 429 when a per-minute limit is spent. */
export function openaiLimitError(message: string): Rejection {
  return openaiError(429, message, null, 'rate_limit_exceeded', 'tokens');
}

/**
 * OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the reset a duration (`45s`), and
 * `Retry-After` on a 429. OpenAI has no separate input and output windows.
 */
export function openaiLimitHeaders(r: LimitReport): Record<string, string> {
  const headers = retryAfterOf(r);
  const reset = formatDuration(r.resetInMs);
  const add = (kind: string, c: LimitCount | null): void => {
    if (c === null) return;
    headers[`x-ratelimit-limit-${kind}`] = String(c.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(c.remaining);
    headers[`x-ratelimit-reset-${kind}`] = reset;
  };
  add('requests', r.requests);
  add('tokens', r.tokens);
  return headers;
}

const ROUTES: Readonly<Record<string, Endpoint>> = {
  '/v1/chat/completions': 'chat',
  '/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/embeddings': 'embeddings',
};

export const openaiFormat: WireFormat = {
  route(req: WireRequest) {
    const endpoint = ROUTES[req.path];
    return endpoint !== undefined && req.method === 'POST' ? endpoint : openaiError(404, `Invalid URL (${req.method} ${req.path})`);
  },
  checkRequest(req, expectedKey) {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (match === null) return openaiError(401, NO_KEY);
    const key = match[1]!;
    if (expectedKey !== undefined && key !== expectedKey) {
      return openaiError(401, `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`, null, 'invalid_api_key');
    }
    return null;
  },
  checkBody: (endpoint, body) => checkOpenaiBody(endpoint, body, true),
  error: openaiScriptedError,
  limitError: openaiLimitError,
  limitHeaders: openaiLimitHeaders,
  answer: openaiAnswer,
};

/**
 * An Anthropic Messages request (`MessageCreateParams` in `@anthropic-ai/sdk`) from an Anthropic
 * SDK client, checked as Anthropic checks it and translated into an OpenAI chat-completions request
 * for a deployment that does not speak Anthropic's API. The strict checks are the mock's
 * (mock/anthropic/format.ts): one piece of code says what Anthropic accepts, on both sides.
 *
 *   system (string or text blocks)   → a system message (string, or text parts)
 *   user text / image blocks         → text / image_url parts (base64 → data: URL, url → url)
 *   user tool_result blocks          → tool messages, in order; text content, is_error → "Error:" first
 *   assistant text / tool_use blocks → content parts / tool_calls (input → arguments JSON string)
 *   assistant thinking blocks        → left out: a replayed reasoning trace has no OpenAI input
 *   tools                            → function tools (input_schema → parameters)
 *   tool_choice auto/any/tool/none   → auto / required / named function / none;
 *                                      disable_parallel_tool_use → parallel_tool_calls: false
 *   max_tokens, stop_sequences       → max_tokens, stop
 *   temperature, top_p, stream       → the same (stream asks for the usage chunk: Anthropic's stream reports usage)
 *   metadata.user_id                 → user
 *   output_config.format json_schema → response_format json_schema
 *   service_tier auto/standard_only  → auto / default
 *   thinking disabled, cache_control → nothing (a cache breakpoint is a hint; OpenAI caches prefixes itself)
 *   the router's own fields          → carried over for the router to read (router-fields.ts)
 *
 * Refused with a 400 naming the field, rather than answered differently from what was asked:
 * top_k, thinking enabled, document / search_result / server-tool blocks, images in tool results,
 * server tools, output_config.effort, container, inference_geo, user_profile_id.
 */
import { isObject, isSet, type Json } from '../../chat-request.js';
import { anthropicFormat } from '../../../mock/anthropic/format.js';
import { withoutRouterFields } from '../../router-fields.js';
import { AnthropicRefusal, invalidRequest, type AnthropicErrorType } from './errors.js';

const notServed = (at: string, what = ''): AnthropicRefusal =>
  invalidRequest(at, `${what === '' ? '' : `${what} `}not supported when this model is served by a deployment that does not speak Anthropic's Messages API`);

/**
 * Refuses a body Anthropic would refuse (`endpoint`: `/v1/messages` or its `count_tokens`), with
 * Anthropic's status and wording; the router's own fields are allowed besides.
 */
export function checkMessagesRequest(body: unknown, endpoint: 'chat' | 'count_tokens' = 'chat'): void {
  const rejection = anthropicFormat.checkBody(endpoint, isObject(body) ? withoutRouterFields(body) : body);
  if (rejection !== null) {
    const error = (rejection.body as { error: { type: AnthropicErrorType; message: string } }).error;
    throw new AnthropicRefusal(rejection.status, error.type, error.message);
  }
  const messages = (body as Json).messages as unknown[];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) throw invalidRequest(`messages.${i}`, 'Input should be a valid dictionary');
    if (m.role !== 'user' && m.role !== 'assistant') throw invalidRequest(`messages.${i}.role`, "Input should be 'user' or 'assistant'");
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) throw invalidRequest(`messages.${i}.content`, 'Input should be a valid string or list');
  }
}

/** The OpenAI chat-completions request for a checked Messages request; throws an AnthropicRefusal for what cannot be expressed. */
export function toOpenAiRequest(body: Json): Json {
  refuseUntranslatable(body);
  const out: Json = { model: body.model };
  const messages: Json[] = [];
  const system = systemOf(body.system);
  if (system !== null) messages.push({ role: 'system', content: system });
  const turns = body.messages as Json[];
  for (let i = 0; i < turns.length; i++) {
    const turn = turns[i]!;
    if (turn.role === 'user') userMessagesOf(turn.content, `messages.${i}.content`, messages);
    else messages.push(assistantMessageOf(turn.content, `messages.${i}.content`));
  }
  out.messages = messages;
  out.max_tokens = body.max_tokens;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) out.stop = body.stop_sequences;
  if (isSet(body.temperature)) out.temperature = body.temperature;
  if (isSet(body.top_p)) out.top_p = body.top_p;
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  if (Array.isArray(body.tools)) out.tools = body.tools.map((tool: unknown, i) => toolOf(tool, `tools.${i}`));
  if (isSet(body.tool_choice)) Object.assign(out, toolChoiceOf(body.tool_choice));
  const format = responseFormatOf(body.output_config);
  if (format !== null) out.response_format = format;
  if (body.service_tier === 'auto' || body.service_tier === 'standard_only') out.service_tier = body.service_tier === 'auto' ? 'auto' : 'default';
  else if (isSet(body.service_tier)) throw invalidRequest('service_tier', "Input should be 'auto' or 'standard_only'");
  Object.assign(out, metadataOf(body));
  return out;
}

function refuseUntranslatable(body: Json): void {
  if (isSet(body.top_k)) throw notServed('top_k');
  if (isObject(body.thinking) && body.thinking.type !== 'disabled') throw notServed('thinking', `type '${String(body.thinking.type)}' is`);
  for (const field of ['container', 'inference_geo', 'user_profile_id'] as const) if (isSet(body[field])) throw notServed(field);
}

/** The system prompt: its string, or its text blocks as text parts; null when there is none. */
function systemOf(system: unknown): string | Json[] | null {
  if (typeof system === 'string') return system === '' ? null : system;
  if (!Array.isArray(system)) return null;
  const parts = system.map((block: unknown, i) => {
    if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') throw invalidRequest(`system.${i}`, 'expected a text block');
    return { type: 'text', text: block.text };
  });
  return parts.length === 0 ? null : parts;
}

/** A user turn's messages, added to `into`: tool results as tool messages, the rest as user messages, in their order. */
function userMessagesOf(content: unknown, at: string, into: Json[]): void {
  if (typeof content === 'string') {
    into.push({ role: 'user', content });
    return;
  }
  let parts: Json[] = [];
  const flush = (): void => {
    if (parts.length > 0) into.push({ role: 'user', content: parts });
    parts = [];
  };
  const blocks = content as unknown[];
  for (let j = 0; j < blocks.length; j++) {
    const block = blocks[j];
    const blockAt = `${at}.${j}`;
    if (!isObject(block)) throw invalidRequest(blockAt, 'Input should be a valid dictionary');
    if (block.type === 'tool_result') {
      flush();
      into.push(toolMessageOf(block, blockAt));
    } else if (block.type === 'text') parts.push(textPartOf(block, blockAt));
    else if (block.type === 'image') parts.push(imagePartOf(block, blockAt));
    else throw unsupportedBlock(block, blockAt);
  }
  flush();
}

function assistantMessageOf(content: unknown, at: string): Json {
  if (typeof content === 'string') return { role: 'assistant', content };
  const parts: Json[] = [];
  const calls: Json[] = [];
  const blocks = content as unknown[];
  for (let j = 0; j < blocks.length; j++) {
    const block = blocks[j];
    const blockAt = `${at}.${j}`;
    if (!isObject(block)) throw invalidRequest(blockAt, 'Input should be a valid dictionary');
    if (block.type === 'text') parts.push(textPartOf(block, blockAt));
    else if (block.type === 'tool_use') calls.push(toolCallOf(block, blockAt));
    else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') throw unsupportedBlock(block, blockAt);
  }
  const message: Json = { role: 'assistant', content: parts.length === 0 ? null : parts };
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

const unsupportedBlock = (block: Json, at: string): AnthropicRefusal =>
  typeof block.type === 'string' ? notServed(`${at}.type`, `'${block.type}' blocks are`) : invalidRequest(`${at}.type`, 'Field required');

function textPartOf(block: Json, at: string): Json {
  if (typeof block.text !== 'string') throw invalidRequest(`${at}.text`, 'Input should be a valid string');
  return { type: 'text', text: block.text };
}

function imagePartOf(block: Json, at: string): Json {
  const source = block.source;
  if (isObject(source) && source.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (isObject(source) && source.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } };
  if (isObject(source) && typeof source.type === 'string' && source.type !== 'base64' && source.type !== 'url') throw notServed(`${at}.source.type`, `'${source.type}' is`);
  throw invalidRequest(`${at}.source`, 'expected a base64 or url image source');
}

function toolCallOf(block: Json, at: string): Json {
  if (typeof block.id !== 'string') throw invalidRequest(`${at}.id`, 'Input should be a valid string');
  if (typeof block.name !== 'string') throw invalidRequest(`${at}.name`, 'Input should be a valid string');
  if (!isObject(block.input)) throw invalidRequest(`${at}.input`, 'Input should be a valid dictionary');
  return { id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } };
}

/** OpenAI has no error flag on a tool's result: the model reads that it failed in the content itself. */
function toolMessageOf(block: Json, at: string): Json {
  if (typeof block.tool_use_id !== 'string') throw invalidRequest(`${at}.tool_use_id`, 'Input should be a valid string');
  const failed = block.is_error === true;
  const content = block.content;
  if (content === undefined || typeof content === 'string') {
    const text = content ?? '';
    return { role: 'tool', tool_call_id: block.tool_use_id, content: failed ? `Error: ${text}` : text };
  }
  if (!Array.isArray(content)) throw invalidRequest(`${at}.content`, 'Input should be a valid string or list');
  const parts: Json[] = failed ? [{ type: 'text', text: 'Error:' }] : [];
  for (let k = 0; k < content.length; k++) {
    const part: unknown = content[k];
    const partAt = `${at}.content.${k}`;
    if (isObject(part) && part.type === 'text') parts.push(textPartOf(part, partAt));
    else if (isObject(part) && typeof part.type === 'string') throw notServed(`${partAt}.type`, `'${part.type}' blocks in a tool result are`);
    else throw invalidRequest(partAt, 'Input should be a valid dictionary');
  }
  return { role: 'tool', tool_call_id: block.tool_use_id, content: parts };
}

/** A custom tool (no `type`, or `custom`) as a function tool; Anthropic's server tools run on Anthropic's side only. */
function toolOf(tool: unknown, at: string): Json {
  if (!isObject(tool)) throw invalidRequest(at, 'Input should be a valid dictionary');
  if (isSet(tool.type) && tool.type !== 'custom') throw notServed(`${at}.type`, `'${String(tool.type)}' tools are`);
  if (typeof tool.name !== 'string') throw invalidRequest(`${at}.name`, 'Field required');
  if (!isObject(tool.input_schema)) throw invalidRequest(`${at}.input_schema`, 'Field required');
  const fn: Json = { name: tool.name };
  if (typeof tool.description === 'string') fn.description = tool.description;
  fn.parameters = tool.input_schema;
  if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
  return { type: 'function', function: fn };
}

function toolChoiceOf(choice: unknown): Json {
  if (!isObject(choice)) throw invalidRequest('tool_choice', 'Input should be a valid dictionary');
  const parallel = choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (choice.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'none':
      return { tool_choice: 'none' };
    case 'tool':
      if (typeof choice.name !== 'string') throw invalidRequest('tool_choice.name', 'Field required');
      return { tool_choice: { type: 'function', function: { name: choice.name } }, ...parallel };
    default:
      throw invalidRequest('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
  }
}

/** `output_config`: a JSON schema format is OpenAI's structured output; an effort level has no counterpart. */
function responseFormatOf(config: unknown): Json | null {
  if (!isObject(config)) return null;
  for (const key of Object.keys(config)) if (key !== 'format' && isSet(config[key])) throw notServed(`output_config.${key}`);
  const format = config.format;
  if (!isSet(format)) return null;
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema)) throw invalidRequest('output_config.format', 'expected a json_schema format with a schema');
  return { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict: true } };
}

/**
 * `metadata.user_id` → `user`; the router's own members (`tags`, `route_preference`) stay in
 * `metadata` and its top-level fields stay where they were, for the router to read and remove.
 */
function metadataOf(body: Json): Json {
  const out: Json = {};
  for (const field of ['tags', 'disable_fallbacks'] as const) if (body[field] !== undefined) out[field] = body[field];
  if (!isObject(body.metadata)) return out;
  const routerMembers: Json = {};
  for (const [key, value] of Object.entries(body.metadata)) {
    if (key === 'user_id') {
      if (typeof value === 'string' && value !== '') out.user = value;
      else if (value !== null && value !== undefined) throw invalidRequest('metadata.user_id', 'Input should be a valid string');
    } else if (key === 'tags' || key === 'route_preference') routerMembers[key] = value;
    else throw invalidRequest(`metadata.${key}`, 'Extra inputs are not permitted');
  }
  if (Object.keys(routerMembers).length > 0) out.metadata = routerMembers;
  return out;
}

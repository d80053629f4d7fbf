/**
 * An OpenAI chat-completions request, translated into an Anthropic Messages request (shapes from
 * `@anthropic-ai/sdk` `MessageCreateParamsBase`). The Anthropic body is built from the fields this
 * module knows, so nothing else reaches the provider: the router's own fields, OpenAI-only hints
 * Anthropic has no use for (dropped) and anything it would refuse. A parameter whose effect
 * Anthropic cannot give (n > 1, logprobs, audio, JSON mode, the deprecated functions API) is
 * refused with a 400 `unsupported_parameter` naming it, rather than answered differently from what
 * the client asked. The body is serialised once.
 *
 *   system / developer messages   → `system` text blocks, in order, wherever they stood
 *   user text and image parts     → text and image blocks (a data: URL → base64 source, http(s) → url)
 *   assistant content, tool_calls → text blocks, then tool_use blocks (arguments parsed to `input`)
 *   tool messages                 → tool_result blocks in a user turn, ahead of any text in it
 *   consecutive same-role turns   → one turn, as Anthropic requires alternation
 *   tools / tool_choice           → tools with `input_schema`; auto / none / required → any / named → tool
 *   parallel_tool_calls: false    → tool_choice.disable_parallel_tool_use
 *   stop (string or list)         → stop_sequences
 *   max_completion_tokens / max_tokens → max_tokens, `defaultMaxTokens` when neither is set
 *   temperature                   → temperature, clamped to Anthropic's [0, 1]
 *   top_p, top_k, stream          → the same
 *   response_format json_schema   → output_config.format
 *   user (else safety_identifier) → metadata.user_id
 */
import {
  dataUrlOf,
  forEachAssistantText,
  forEachText,
  forEachToolCall,
  functionToolOf,
  integerOf,
  invalid,
  isObject,
  isSet,
  maxTokensOf,
  noTurns,
  numberOf,
  readMessages,
  refuseOpenAiOnly,
  responseFormatOf,
  stopSequencesOf,
  toolChoiceOf,
  unsupportedBy,
  type Json,
} from '../chat-request.js';

/**
 * Anthropic requires `max_tokens`; OpenAI lets the model write until it stops. 4,096 is the
 * smallest output limit of any Claude model (Claude 3 Haiku), so no model refuses it.
 */
export const DEFAULT_MAX_TOKENS = 4096;

export interface RequestOptions {
  /** The deployment's model id. */
  readonly model: string;
  /** `max_tokens` when the client set neither `max_tokens` nor `max_completion_tokens`. */
  readonly defaultMaxTokens?: number;
}

interface Turn {
  readonly role: 'user' | 'assistant';
  /** tool_result blocks, which lead a user turn (Anthropic refuses text before them). */
  readonly results: Json[];
  readonly blocks: Json[];
}

/** Anthropic's image types (`Base64ImageSource.media_type`). */
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** Named in each refusal; Bedrock's translation, built on this one, names its own API instead. */
export const SERVED_BY = "served by Anthropic's Messages API";
const unsupported = unsupportedBy("Anthropic's Messages API");

/** The Anthropic request body for the OpenAI chat-completions `body`; throws a RouterError for what cannot be sent. */
export function fromOpenAiRequest(body: Json, options: RequestOptions): Buffer {
  return Buffer.from(JSON.stringify(messagesParamsOf(body, options)));
}

/** The Anthropic request as an object, before serialisation (Bedrock's Converse request is built from it). */
export function messagesParamsOf(body: Json, options: RequestOptions): Json {
  refuseUntranslatable(body);
  const out: Json = { model: options.model, max_tokens: maxTokensOf(body, options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS) };
  const { system, messages } = conversationOf(body.messages);
  if (system.length > 0) out.system = system;
  out.messages = messages;
  const stop = stopSequencesOf(body.stop);
  if (stop !== null) out.stop_sequences = stop;
  const temperature = numberOf(body, 'temperature', 0, 2);
  if (temperature !== null) out.temperature = Math.min(temperature, 1);
  const topP = numberOf(body, 'top_p', 0, 1);
  if (topP !== null) out.top_p = topP;
  const topK = integerOf(body, 'top_k', 0);
  if (topK !== null) out.top_k = topK;
  if (body.stream === true) out.stream = true;
  const tools = toolsOf(body.tools);
  if (tools !== null) out.tools = tools;
  const toolChoice = toolChoiceFor(body.tool_choice, body.parallel_tool_calls);
  if (toolChoice !== null) out.tool_choice = toolChoice;
  const format = outputFormatOf(body.response_format);
  if (format !== null) out.output_config = { format };
  const user = typeof body.user === 'string' && body.user !== '' ? body.user : body.safety_identifier;
  if (typeof user === 'string' && user !== '') out.metadata = { user_id: user };
  return out;
}

/** Parameters whose effect Anthropic cannot give, when set to anything but their default. */
function refuseUntranslatable(body: Json): void {
  if (isSet(body.n) && body.n !== 1) throw unsupported('n', 'above 1', 'it gives one choice per request');
  refuseOpenAiOnly(body, unsupported);
}

/** `system` blocks and alternating turns from the OpenAI `messages`. */
function conversationOf(messages: unknown): { system: Json[]; messages: Json[] } {
  const system: Json[] = [];
  const turns: Turn[] = [];
  const add = (role: Turn['role'], blocks: readonly Json[], toolResult: boolean): void => {
    // A message with nothing in it (an empty string) adds no turn: an empty one would be refused.
    if (blocks.length === 0) return;
    let last = turns[turns.length - 1];
    if (last === undefined || last.role !== role) turns.push((last = { role, results: [], blocks: [] }));
    const into = toolResult ? last.results : last.blocks;
    for (const block of blocks) into.push(block);
  };
  readMessages(messages, unsupported, {
    system: (text) => system.push({ type: 'text', text }),
    user: (m, at) => add('user', userBlocksOf(m.content, `${at}.content`), false),
    assistant: (m, at) => add('assistant', assistantBlocksOf(m, at), false),
    tool: (m, at) => add('user', [toolResultOf(m, at)], true),
  });
  if (turns.length === 0) throw noTurns();
  return { system, messages: turns.map((t) => ({ role: t.role, content: t.results.length === 0 ? t.blocks : t.results.concat(t.blocks) })) };
}

/** Text blocks for a string or text parts; empty text is skipped (Anthropic refuses an empty text block). */
function textBlocksOf(content: unknown, at: string): Json[] {
  const blocks: Json[] = [];
  forEachText(content, at, (text) => blocks.push({ type: 'text', text }));
  return blocks;
}

function userBlocksOf(content: unknown, at: string): Json[] {
  const blocks: Json[] = [];
  if (!Array.isArray(content)) return textBlocksOf(content, at);
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    const partAt = `${at}[${j}]`;
    if (!isObject(part)) throw invalid(partAt, 'expected a content part');
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw invalid(`${partAt}.text`, 'expected a string');
      if (part.text !== '') blocks.push({ type: 'text', text: part.text });
    } else if (part.type === 'image_url') {
      blocks.push(imageOf(part.image_url, `${partAt}.image_url`));
    } else if (part.type === 'input_audio' || part.type === 'file') {
      throw unsupported(`${partAt}.type`, `'${part.type}'`);
    } else {
      throw invalid(`${partAt}.type`, "expected 'text' or 'image_url'");
    }
  }
  return blocks;
}

/** An image block: a base64 data: URL becomes a base64 source, an http(s) URL a url source (`detail` has no counterpart). */
function imageOf(image: unknown, at: string): Json {
  const url = isObject(image) ? image.url : undefined;
  if (typeof url !== 'string') throw invalid(`${at}.url`, 'expected a string');
  if (url.startsWith('https://') || url.startsWith('http://')) return { type: 'image', source: { type: 'url', url } };
  const inline = dataUrlOf(url, `${at}.url`);
  if (inline === null) throw invalid(`${at}.url`, 'expected an http(s) URL or a base64 data: URL');
  if (!IMAGE_TYPES.has(inline.mediaType)) throw unsupported(`${at}.url`, `with media type '${inline.mediaType}'`, 'use jpeg, png, gif or webp');
  return { type: 'image', source: { type: 'base64', media_type: inline.mediaType, data: inline.data } };
}

function assistantBlocksOf(m: Json, at: string): Json[] {
  const blocks: Json[] = [];
  forEachAssistantText(m.content, `${at}.content`, (text) => blocks.push({ type: 'text', text }));
  forEachToolCall(m.tool_calls, `${at}.tool_calls`, unsupported, (id, name, input) => blocks.push({ type: 'tool_use', id, name, input }));
  return blocks;
}

function toolResultOf(m: Json, at: string): Json {
  if (typeof m.tool_call_id !== 'string') throw invalid(`${at}.tool_call_id`, 'expected a string');
  const content = m.content;
  const block: Json = { type: 'tool_result', tool_use_id: m.tool_call_id };
  if (typeof content === 'string') {
    if (content !== '') block.content = content;
  } else {
    const blocks = textBlocksOf(content, `${at}.content`);
    if (blocks.length > 0) block.content = blocks;
  }
  return block;
}

function toolsOf(tools: unknown): Json[] | null {
  if (!isSet(tools)) return null;
  if (!Array.isArray(tools)) throw invalid('tools', 'expected an array');
  return tools.map((tool: unknown, i) => {
    const { name, description, parameters, strict } = functionToolOf(tool, `tools[${i}]`, unsupported);
    // OpenAI lets a tool omit its parameters (none); Anthropic requires an object schema.
    const out: Json = { name, input_schema: parameters ?? { type: 'object', properties: {} } };
    if (description !== undefined) out.description = description;
    if (strict !== undefined) out.strict = strict;
    return out;
  });
}

function toolChoiceFor(choice: unknown, parallel: unknown): Json | null {
  const single = parallel === false ? { disable_parallel_tool_use: true } : null;
  const wanted = toolChoiceOf(choice, unsupported);
  if (wanted === null) return single === null ? null : { type: 'auto', ...single };
  if (wanted === 'none') return { type: 'none' };
  if (wanted === 'auto') return { type: 'auto', ...single };
  if (wanted === 'required') return { type: 'any', ...single };
  return { type: 'tool', name: wanted.name, ...single };
}

/** Structured output: a JSON schema is Anthropic's `output_config.format`; plain JSON mode has no counterpart. */
function outputFormatOf(format: unknown): Json | null {
  const wanted = responseFormatOf(format);
  if (wanted === null) return null;
  if (wanted.schema === undefined) throw unsupported('response_format', "of type 'json_object'", "use 'json_schema'");
  return { type: 'json_schema', schema: wanted.schema };
}

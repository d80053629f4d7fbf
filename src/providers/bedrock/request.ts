/**
 * An OpenAI chat-completions request, translated into a Bedrock Converse request (shapes from
 * `@aws-sdk/client-bedrock-runtime` `ConverseRequest`). Converse's messages are Anthropic's Messages
 * re-keyed (a block is `{text}`, `{image}`, `{toolUse}` or `{toolResult}` instead of a `type`), so
 * the conversation is first read by the Anthropic translation (anthropic/request.ts: system prompts
 * gathered, same-role turns merged, tool results leading their turn, every refusal of what has no
 * counterpart) and its blocks re-keyed here; the body is serialised once.
 *
 *   system                         → system: [{text}]
 *   text / image (base64) blocks   → {text} / {image: {format, source: {bytes}}}
 *   tool_calls / tool messages     → {toolUse: {toolUseId, name, input}} / {toolResult: {toolUseId, content: [{text}]}}
 *   max_tokens, temperature, top_p, stop → inferenceConfig {maxTokens, temperature, topP, stopSequences}
 *   tools                          → toolConfig.tools [{toolSpec: {name, description, inputSchema: {json}}}]
 *   tool_choice auto / required / named → toolConfig.toolChoice {auto} / {any} / {tool: {name}}
 *
 * The model id and streaming are in the path (`/model/{id}/converse`, `/converse-stream`), not the
 * body. Refused besides what Anthropic refuses (Converse has no counterpart): image URLs (it takes
 * bytes), `tool_choice: "none"`, `parallel_tool_calls: false`, `response_format` other than text,
 * `top_k`. `user` has none either and is dropped, as Anthropic-only fields are.
 */
import { RouterError } from '../../errors.js';
import { messagesParamsOf, SERVED_BY } from '../anthropic/request.js';
import { isObject, isSet, unsupportedBy, type Json } from '../chat-request.js';

const BEDROCK = "served by Amazon Bedrock's Converse API";
const unsupported = unsupportedBy("Amazon Bedrock's Converse API");

/** The Converse request body for the OpenAI chat-completions `body`; throws a RouterError for what cannot be sent. */
export function fromOpenAiRequest(body: Json): Buffer {
  refuseUntranslatable(body);
  let params: Json;
  try {
    // The model id travels in the path: the Anthropic translation's own is not sent.
    params = messagesParamsOf(body, { model: '' });
  } catch (err) {
    if (err instanceof RouterError && err.code === 'unsupported_parameter') throw new RouterError(err.code, err.message.replace(SERVED_BY, BEDROCK), err.param);
    throw err;
  }
  const out: Json = { messages: (params.messages as Json[]).map((m) => ({ role: m.role, content: (m.content as Json[]).map(blockOf) })) };
  if (Array.isArray(params.system)) out.system = (params.system as Json[]).map((b) => ({ text: b.text }));
  const inference: Json = {};
  // Anthropic needs max_tokens and gets a default; Converse lets the model's own limit apply.
  if (isSet(body.max_completion_tokens) || isSet(body.max_tokens)) inference.maxTokens = params.max_tokens;
  if (params.temperature !== undefined) inference.temperature = params.temperature;
  if (params.top_p !== undefined) inference.topP = params.top_p;
  if (params.stop_sequences !== undefined) inference.stopSequences = params.stop_sequences;
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;
  if (Array.isArray(params.tools)) {
    const toolConfig: Json = { tools: (params.tools as Json[]).map(toolOf) };
    const choice = params.tool_choice as Json | undefined;
    if (choice?.type === 'any') toolConfig.toolChoice = { any: {} };
    else if (choice?.type === 'tool') toolConfig.toolChoice = { tool: { name: choice.name } };
    else if (choice?.type === 'auto') toolConfig.toolChoice = { auto: {} };
    out.toolConfig = toolConfig;
  }
  return Buffer.from(JSON.stringify(out));
}

/** What Anthropic's Messages API takes and Converse does not. */
function refuseUntranslatable(body: Json): void {
  if (body.tool_choice === 'none') throw unsupported('tool_choice', "'none'", "leave out 'tools' for an answer without tool calls");
  if (body.parallel_tool_calls === false) throw unsupported('parallel_tool_calls', "'false'", 'the model decides how many tools to call');
  const format = body.response_format;
  if (isObject(format) && format.type !== 'text') throw unsupported('response_format', `of type '${String(format.type)}'`, 'describe the format in the prompt');
  if (isSet(body.top_k)) throw unsupported('top_k', '', 'use top_p');
  if (!Array.isArray(body.messages)) return;
  for (let i = 0; i < body.messages.length; i++) {
    const content: unknown = (body.messages[i] as Json | null)?.content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) {
      const part: unknown = content[j];
      const url = isObject(part) && part.type === 'image_url' && isObject(part.image_url) ? part.image_url.url : undefined;
      if (typeof url === 'string' && !url.startsWith('data:')) throw unsupported(`messages[${i}].content[${j}].image_url.url`, 'with an http(s) URL', 'send the image as a base64 data: URL');
    }
  }
}

/** An Anthropic content block (as anthropic/request.ts builds them) as a Converse one. */
function blockOf(block: Json): Json {
  switch (block.type) {
    case 'text':
      return { text: block.text };
    case 'image': {
      const source = block.source as Json;
      return { image: { format: (source.media_type as string).slice('image/'.length), source: { bytes: source.data } } };
    }
    case 'tool_use':
      return { toolUse: { toolUseId: block.id, name: block.name, input: block.input } };
    default: {
      // tool_result: its content is a string, text blocks, or absent (an empty result).
      const content = block.content;
      const texts = typeof content === 'string' ? [{ text: content }] : Array.isArray(content) ? (content as Json[]).map((b) => ({ text: b.text })) : [];
      return { toolResult: { toolUseId: block.tool_use_id, content: texts } };
    }
  }
}

function toolOf(tool: Json): Json {
  const spec: Json = { name: tool.name, inputSchema: { json: tool.input_schema } };
  if (tool.description !== undefined) spec.description = tool.description;
  return { toolSpec: spec };
}

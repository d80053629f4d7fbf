/**
 * A `count_tokens` request (`MessageCountTokensParams` in `@anthropic-ai/sdk`) as the router reads
 * it: checked as Anthropic checks it, then in the shape of an OpenAI chat request whose text is
 * everything the model would read — the system prompt, every block's text, tool calls' inputs,
 * tool results, the tool definitions — so that routing's own features and token counter
 * (routing/features.ts, routing/tokens.ts) measure it. Nothing is refused for being untranslatable:
 * the shape is never sent anywhere, only counted.
 */
import { isObject, type Json } from '../../chat-request.js';
import { checkMessagesRequest } from './request.js';

/** An image, or a document (a PDF page is an image to the model): counted at the image rate. */
const IMAGE_PART: Json = { type: 'image' };

function textPart(text: string): Json {
  return { type: 'text', text };
}

/** What a block adds to the text the model reads. */
function partsOf(block: unknown, into: Json[]): void {
  if (!isObject(block)) return;
  switch (block.type) {
    case 'text':
      if (typeof block.text === 'string') into.push(textPart(block.text));
      return;
    case 'thinking':
      if (typeof block.thinking === 'string') into.push(textPart(block.thinking));
      return;
    case 'image':
    case 'document':
      into.push(IMAGE_PART);
      return;
    case 'tool_use':
      into.push(textPart(`${String(block.name)} ${JSON.stringify(block.input ?? {})}`));
      return;
    case 'tool_result':
      if (typeof block.content === 'string') into.push(textPart(block.content));
      else if (Array.isArray(block.content)) for (const inner of block.content) partsOf(inner, into);
      return;
    default:
      // Server-tool blocks, search results and the like: their JSON, an over-estimate of their text.
      into.push(textPart(JSON.stringify(block)));
  }
}

function contentOf(content: unknown): string | Json[] {
  if (typeof content === 'string') return content;
  const parts: Json[] = [];
  for (const block of content as unknown[]) partsOf(block, parts);
  return parts;
}

/**
 * The request checked (an AnthropicRefusal otherwise) and in its counted shape: `model`, the
 * system prompt and the turns as messages, `tools` as they are.
 */
export function countedFormOf(body: unknown): Json & { model: string } {
  checkMessagesRequest(body, 'count_tokens');
  const request = body as Json & { model: string; messages: Json[] };
  const messages: Json[] = [];
  if (request.system !== undefined) messages.push({ role: 'system', content: contentOf(request.system) });
  for (const m of request.messages) messages.push({ role: m.role, content: contentOf(m.content) });
  const counted: Json & { model: string } = { model: request.model, messages };
  if (Array.isArray(request.tools)) counted.tools = request.tools;
  return counted;
}

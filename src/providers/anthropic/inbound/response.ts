/**
 * An OpenAI chat.completion translated into the Anthropic `Message` an Anthropic SDK client expects,
 * and an OpenAI error body into Anthropic's (errors.ts).
 *
 *   message.content, refusal   → a text block each (a refusal is what the model said)
 *   tool_calls                 → tool_use blocks, arguments parsed into `input` (`{}` when they do
 *                                not parse: a call cut by the token limit, stop reason max_tokens)
 *   finish_reason              → stop_reason: stop → end_turn, length → max_tokens,
 *                                tool_calls / function_call → tool_use, content_filter → refusal
 *   usage                      → input_tokens = prompt − cached, cache_read_input_tokens = cached
 *
 * `stop_sequence` is always null and a stop always `end_turn`: OpenAI removes a matched stop
 * sequence from the answer and reports `stop` either way, so which one matched, if any, is unknowable.
 */
import { isObject, type Json } from '../../chat-request.js';
import { JsonTranslator, untranslated } from '../../json-translator.js';
import { normaliseUsage } from '../../openai/response.js';
import type { Usage } from '../../usage.js';
import { anthropicErrorOf } from './errors.js';

export type StopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal';

const STOP_REASONS: Readonly<Record<string, StopReason>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/** The Anthropic stop reason for an OpenAI finish reason; one OpenAI adds later reads as end_turn. */
export const stopReasonOf = (finishReason: unknown): StopReason => (typeof finishReason === 'string' ? STOP_REASONS[finishReason] : undefined) ?? 'end_turn';

/** Anthropic's `Usage`: its prompt parts are disjoint, OpenAI's cached tokens are part of its prompt tokens. */
export function anthropicUsageOf(usage: Usage): Json {
  return {
    input_tokens: usage.promptTokens - usage.cachedPromptTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.cachedPromptTokens,
    output_tokens: usage.completionTokens,
  };
}

/** A tool call's arguments as the object Anthropic's `input` must be. */
export function toolInputOf(args: unknown): unknown {
  if (typeof args !== 'string') return {};
  try {
    const input: unknown = JSON.parse(args);
    return isObject(input) ? input : {};
  } catch {
    return {};
  }
}

/** The Anthropic message for a chat.completion (its first choice: the request asked for one). */
export function toAnthropicMessage(completion: Json): Json {
  const choice = Array.isArray(completion.choices) && isObject(completion.choices[0]) ? completion.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: Json[] = [];
  for (const text of [message.content, message.refusal]) if (typeof text === 'string' && text !== '') content.push({ type: 'text', text });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  for (const call of calls) {
    if (!isObject(call) || typeof call.id !== 'string' || !isObject(call.function) || typeof call.function.name !== 'string') continue;
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInputOf(call.function.arguments) });
  }
  const usage = normaliseUsage(isObject(completion.usage) ? completion.usage : {});
  return {
    id: typeof completion.id === 'string' ? completion.id : '',
    type: 'message',
    role: 'assistant',
    model: typeof completion.model === 'string' ? completion.model : '',
    content,
    stop_reason: stopReasonOf(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsageOf(usage),
  };
}

/**
 * An OpenAI JSON response as an Anthropic client gets it: a chat.completion as a message, an error
 * (at `status`, the provider's) as Anthropic's error; anything else as it came.
 */
export function anthropicJsonResponse(status: number): JsonTranslator {
  return new JsonTranslator((body, bytes) => {
    if (isObject(body) && body.object === 'chat.completion') {
      const usage = isObject(body.usage) ? normaliseUsage(body.usage) : null;
      return { bytes: Buffer.from(JSON.stringify(toAnthropicMessage(body))), usage, responseModel: typeof body.model === 'string' ? body.model : null, complete: true };
    }
    if (isObject(body) && isObject(body.error)) return { ...untranslated(bytes), bytes: Buffer.from(JSON.stringify(anthropicErrorOf(status, body).body)) };
    return untranslated(bytes);
  });
}

/**
 * An Anthropic Messages response (`Message` in `@anthropic-ai/sdk`), translated into an OpenAI
 * chat.completion, and Anthropic's usage read into the router's `Usage`.
 *
 * Usage: Anthropic counts prompt tokens in three disjoint parts (`input_tokens` after the last cache
 * breakpoint, `cache_read_input_tokens`, `cache_creation_input_tokens`); OpenAI's `prompt_tokens`
 * is all of them, with the cache reads as `cached_tokens`. Cache writes are billed as uncached
 * prompt tokens: the router's `Usage` has no price of their own.
 *
 * Stop reasons: end_turn, stop_sequence, pause_turn → stop; max_tokens and
 * model_context_window_exceeded → length; tool_use → tool_calls; refusal → content_filter.
 */
import { JsonTranslator, untranslated } from '../json-translator.js';
import { choiceOf, completionOf, type FinishReason, type OpenAiToolCall } from '../openai-completion.js';
import { tokenCount as tokens, type Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';

/** `Usage` and `MessageDeltaUsage`: every field may be missing or null in a delta. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** The OpenAI finish reason for an Anthropic stop reason; one Anthropic adds later reads as a plain stop. */
export const finishReasonOf = (stopReason: unknown): FinishReason => (typeof stopReason === 'string' ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';

export function usageOf(u: AnthropicUsage): Usage {
  const cachedPromptTokens = tokens(u.cache_read_input_tokens);
  const promptTokens = tokens(u.input_tokens) + cachedPromptTokens + tokens(u.cache_creation_input_tokens);
  const completionTokens = tokens(u.output_tokens);
  return {
    promptTokens,
    cachedPromptTokens,
    completionTokens,
    reasoningTokens: Math.min(tokens(u.output_tokens_details?.thinking_tokens), completionTokens),
    totalTokens: promptTokens + completionTokens,
  };
}

interface AnthropicMessage {
  id?: unknown;
  model?: unknown;
  content?: unknown;
  stop_reason?: unknown;
  usage?: AnthropicUsage | null;
}

/**
 * The chat.completion for an Anthropic message: its text blocks joined, its tool_use blocks as
 * tool calls (arguments as a JSON string). Thinking and server-tool blocks have no OpenAI
 * counterpart and are left out. `createdSec`: Anthropic's answer has no creation time.
 */
export function toOpenAiCompletion(message: AnthropicMessage, createdSec: number): Record<string, unknown> {
  let text: string | null = null;
  const toolCalls: OpenAiToolCall[] = [];
  const blocks = Array.isArray(message.content) ? (message.content as unknown[]) : [];
  for (const block of blocks) {
    const b = block as { type?: unknown; text?: unknown; id?: unknown; name?: unknown; input?: unknown } | null;
    if (b?.type === 'text' && typeof b.text === 'string') text = text === null ? b.text : text + b.text;
    else if (b?.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string') {
      toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
    }
  }
  const id = typeof message.id === 'string' ? message.id : '';
  const model = typeof message.model === 'string' ? message.model : '';
  return completionOf(id, createdSec, model, [choiceOf(0, text, toolCalls, finishReasonOf(message.stop_reason))], usageOf(message.usage ?? {}));
}

/**
 * A JSON response as the client gets it: a message as a chat.completion, an Anthropic error as an
 * OpenAI error (the status is the pipeline's, errors.ts); anything else as it came.
 */
export class JsonResponseTranslator extends JsonTranslator {
  constructor(createdSec: number) {
    super((body, bytes) => {
      const type = (body as { type?: unknown } | null)?.type;
      if (type === 'error') return { ...untranslated(bytes), bytes: Buffer.from(JSON.stringify(toOpenAiError(null, body).body)) };
      if (type !== 'message') return untranslated(bytes);
      const message = body as AnthropicMessage;
      const usage = message.usage != null && typeof message.usage === 'object' ? usageOf(message.usage) : null;
      const responseModel = typeof message.model === 'string' ? message.model : null;
      return { bytes: Buffer.from(JSON.stringify(toOpenAiCompletion(message, createdSec))), usage, responseModel, complete: true };
    });
  }
}

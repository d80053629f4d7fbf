/**
 * A Converse response (`ConverseResponse` in `@aws-sdk/client-bedrock-runtime`: `output.message`,
 * `stopReason`, `usage`, `metrics`), translated into an OpenAI chat.completion; a Bedrock error
 * body into an OpenAI error.
 *
 * Usage: `inputTokens` excludes the prompt-cache reads and writes Bedrock counts apart
 * (`cacheReadInputTokens`, `cacheWriteInputTokens`), as Anthropic's does, so it is read the same
 * way (anthropic/response.ts): prompt tokens are all three, cached ones the reads.
 *
 * Stop reasons: end_turn, stop_sequence → stop; max_tokens, model_context_window_exceeded →
 * length; tool_use → tool_calls; guardrail_intervened, content_filtered → content_filter.
 *
 * Converse answers carry neither an id nor the model: the adapter gives both (the request id
 * Bedrock sends in `x-amzn-requestid`, the deployment's model id).
 */
import { usageOf } from '../anthropic/response.js';
import { JsonTranslator, untranslated } from '../json-translator.js';
import { choiceOf, completionOf, type FinishReason, type OpenAiToolCall } from '../openai-completion.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';

/** Bedrock's `TokenUsage`. */
export interface BedrockUsage {
  inputTokens?: unknown;
  outputTokens?: unknown;
  totalTokens?: unknown;
  cacheReadInputTokens?: unknown;
  cacheWriteInputTokens?: unknown;
}

/** What the answer's chunks and completion say about themselves. */
export interface AnswerIdentity {
  readonly id: string;
  readonly model: string;
  readonly createdSec: number;
}

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

export const finishReasonOf = (stopReason: unknown): FinishReason => (typeof stopReason === 'string' ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';

const count = (n: unknown): number | null => (typeof n === 'number' ? n : null);

export function bedrockUsageOf(u: BedrockUsage): Usage {
  return usageOf({
    input_tokens: count(u.inputTokens),
    output_tokens: count(u.outputTokens),
    cache_read_input_tokens: count(u.cacheReadInputTokens),
    cache_creation_input_tokens: count(u.cacheWriteInputTokens),
  });
}

/** The chat.completion for a Converse answer: text blocks joined, toolUse blocks as tool calls; reasoning and other blocks left out. */
export function toOpenAiCompletion(answer: Record<string, unknown>, identity: AnswerIdentity): Record<string, unknown> {
  const message = (answer.output as { message?: { content?: unknown } } | null)?.message;
  let text: string | null = null;
  const toolCalls: OpenAiToolCall[] = [];
  for (const block of Array.isArray(message?.content) ? (message.content as unknown[]) : []) {
    const b = block as { text?: unknown; toolUse?: { toolUseId?: unknown; name?: unknown; input?: unknown } } | null;
    if (typeof b?.text === 'string') text = text === null ? b.text : text + b.text;
    else if (typeof b?.toolUse?.toolUseId === 'string' && typeof b.toolUse.name === 'string') {
      toolCalls.push({ id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) } });
    }
  }
  const choice = choiceOf(0, text, toolCalls, finishReasonOf(answer.stopReason));
  return completionOf(identity.id, identity.createdSec, identity.model, [choice], bedrockUsageOf((answer.usage as BedrockUsage | null) ?? {}));
}

/**
 * A JSON response, read whole and given to the client translated: an answer as a chat.completion,
 * an error (`{"message"}`, its type from `x-amzn-errortype`) as an OpenAI error. A body that is
 * neither reaches the client as it came.
 */
export class JsonResponseTranslator extends JsonTranslator {
  /** `errorType`: the response's `x-amzn-errortype`, null on success. */
  constructor(identity: AnswerIdentity, errorType: string | null) {
    super((body, bytes) => {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return untranslated(bytes);
      const answer = body as Record<string, unknown>;
      if (errorType !== null || answer.output === undefined) {
        if (typeof answer.message !== 'string' && typeof answer.Message !== 'string') return untranslated(bytes);
        return { ...untranslated(bytes), bytes: Buffer.from(JSON.stringify(toOpenAiError(null, errorType, body).body)) };
      }
      const usage = typeof answer.usage === 'object' && answer.usage !== null ? bedrockUsageOf(answer.usage as BedrockUsage) : null;
      return { bytes: Buffer.from(JSON.stringify(toOpenAiCompletion(answer, identity))), usage, responseModel: identity.model, complete: true };
    });
  }
}

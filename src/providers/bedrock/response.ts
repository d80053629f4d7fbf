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
import { openAiUsageOf, usageOf, type FinishReason } from '../anthropic/response.js';
import type { ResponseObserver, ResponseReport } from '../openai/response.js';
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

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The chat.completion for a Converse answer: text blocks joined, toolUse blocks as tool calls; reasoning and other blocks left out. */
export function toOpenAiCompletion(answer: Record<string, unknown>, identity: AnswerIdentity): Record<string, unknown> {
  const message = (answer.output as { message?: { content?: unknown } } | null)?.message;
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const block of Array.isArray(message?.content) ? (message.content as unknown[]) : []) {
    const b = block as { text?: unknown; toolUse?: { toolUseId?: unknown; name?: unknown; input?: unknown } } | null;
    if (typeof b?.text === 'string') text = text === null ? b.text : text + b.text;
    else if (typeof b?.toolUse?.toolUseId === 'string' && typeof b.toolUse.name === 'string') {
      toolCalls.push({ id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) } });
    }
  }
  const reply: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.createdSec,
    model: identity.model,
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishReasonOf(answer.stopReason) }],
    usage: openAiUsageOf(bedrockUsageOf((answer.usage as BedrockUsage | null) ?? {})),
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * A JSON response, read whole and given to the client translated: an answer as a chat.completion,
 * an error (`{"message"}`, its type from `x-amzn-errortype`) as an OpenAI error. A body that is
 * neither reaches the client as it came.
 */
export class JsonResponseTranslator implements ResponseObserver {
  private readonly chunks: Buffer[] = [];
  private usage: Usage | null = null;
  private complete = false;

  /** `errorType`: the response's `x-amzn-errortype`, null on success. */
  constructor(
    private readonly identity: AnswerIdentity,
    private readonly errorType: string | null,
  ) {}

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    // Copied: `chunk` belongs to a gRPC message that should not be kept alive.
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
    if (!endOfStream) return EMPTY;
    const bytes = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      return bytes;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return bytes;
    const answer = body as Record<string, unknown>;
    if (this.errorType !== null || answer.output === undefined) {
      return typeof answer.message === 'string' || typeof answer.Message === 'string' ? Buffer.from(JSON.stringify(toOpenAiError(null, this.errorType, body).body)) : bytes;
    }
    if (typeof answer.usage === 'object' && answer.usage !== null) this.usage = bedrockUsageOf(answer.usage as BedrockUsage);
    this.complete = true;
    return Buffer.from(JSON.stringify(toOpenAiCompletion(answer, this.identity)));
  }

  report(): ResponseReport {
    return { usage: this.usage, responseModel: this.complete ? this.identity.model : null, contentEvents: 0, complete: this.complete };
  }
}

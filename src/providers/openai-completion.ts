/**
 * The OpenAI chat.completion a translated answer (anthropic/, bedrock/, gemini/ response.ts)
 * becomes: the same members, in the same order, whatever the provider.
 */
import { openAiUsageOf, type Usage } from './usage.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One choice: its text (null when it has none) and tool calls (no `tool_calls` member when there are none). */
export function choiceOf(index: number, text: string | null, toolCalls: readonly OpenAiToolCall[], finishReason: FinishReason): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return { index, message, logprobs: null, finish_reason: finishReason };
}

export function completionOf(id: string, createdSec: number, model: string, choices: unknown[], usage: Usage): Record<string, unknown> {
  return { id, object: 'chat.completion', created: createdSec, model, choices, usage: openAiUsageOf(usage) };
}

/**
 * A Gemini `GenerateContentResponse` translated into an OpenAI chat.completion, and Gemini's usage
 * read into the router's `Usage`. The same reading serves each event of a stream (stream.ts).
 *
 * Candidates are choices (`candidateCount` is OpenAI's `n`): text parts joined, thought parts
 * (`thought: true`, the model's reasoning summary) left out, `functionCall` parts as tool calls
 * with JSON-string arguments. Gemini gives a call no id (the Gemini API matches results by name),
 * so one is made from the response id, the candidate and the call's position; request.ts maps it
 * back to the function's name when the tool result comes.
 *
 * Usage: `promptTokenCount` includes `cachedContentTokenCount`; the tokens of tool results Gemini
 * fetched itself (`toolUsePromptTokenCount`) are prompt tokens too. `candidatesTokenCount` leaves
 * out the thinking (`thoughtsTokenCount`), billed as output: completion = candidates + thoughts,
 * reasoning = thoughts, as OpenAI counts reasoning tokens.
 *
 * Finish reasons: STOP → stop (tool_calls when the candidate called a function); MAX_TOKENS →
 * length; SAFETY, RECITATION, LANGUAGE, BLOCKLIST, PROHIBITED_CONTENT, SPII and the IMAGE_ ones →
 * content_filter; others (OTHER, MALFORMED_FUNCTION_CALL, …) → stop. A prompt Gemini blocked
 * (no candidates, `promptFeedback.blockReason`) is one choice with no content, content_filter.
 */
import { isObject, type Json } from '../chat-request.js';
import { untranslated, type JsonTranslate } from '../json-translator.js';
import { choiceOf, completionOf, type FinishReason } from '../openai-completion.js';
import { tokenCount as tokens, type Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';

/** `GenerateContentResponseUsageMetadata`. */
export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

const FILTERED: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** The OpenAI finish reason for a candidate's `finishReason`; `calledTools`: the candidate has function calls. */
export function finishReasonOf(reason: unknown, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (typeof reason === 'string' && FILTERED.has(reason)) return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}

export function usageOf(u: GeminiUsage): Usage {
  const promptTokens = tokens(u.promptTokenCount) + tokens(u.toolUsePromptTokenCount);
  const reasoningTokens = tokens(u.thoughtsTokenCount);
  const completionTokens = tokens(u.candidatesTokenCount) + reasoningTokens;
  return {
    promptTokens,
    cachedPromptTokens: Math.min(tokens(u.cachedContentTokenCount), promptTokens),
    completionTokens,
    reasoningTokens,
    totalTokens: promptTokens + completionTokens,
  };
}

/** The id a function call gets: Gemini's own when it gives one, else one unique in the conversation. */
export function toolCallIdOf(call: Json, responseId: string, choice: number, position: number): string {
  return typeof call.id === 'string' && call.id !== '' ? call.id : `call_${responseId}_${choice}_${position}`;
}

/** What one candidate (whole, or one stream event's part of it) says. */
export interface CandidateParts {
  readonly index: number;
  /** Its text, thought parts left out; null when it has none. */
  readonly text: string | null;
  readonly calls: ReadonlyArray<{ readonly name: string; readonly args: unknown; readonly call: Json }>;
  readonly finishReason: unknown;
}

/** The candidate's parts; `fallbackIndex` when it does not say its index (a single candidate may not). */
export function candidateOf(candidate: unknown, fallbackIndex: number): CandidateParts | null {
  if (!isObject(candidate)) return null;
  const index = typeof candidate.index === 'number' && Number.isInteger(candidate.index) && candidate.index >= 0 ? candidate.index : fallbackIndex;
  let text: string | null = null;
  const calls: Array<{ name: string; args: unknown; call: Json }> = [];
  const parts = isObject(candidate.content) && Array.isArray(candidate.content.parts) ? (candidate.content.parts as unknown[]) : [];
  for (const part of parts) {
    if (!isObject(part) || part.thought === true) continue;
    if (typeof part.text === 'string') text = text === null ? part.text : text + part.text;
    const call = part.functionCall;
    if (isObject(call) && typeof call.name === 'string') calls.push({ name: call.name, args: isObject(call.args) ? call.args : {}, call });
  }
  return { index, text, calls, finishReason: candidate.finishReason };
}

export interface GeminiResponse {
  candidates?: unknown;
  promptFeedback?: unknown;
  usageMetadata?: GeminiUsage | null;
  modelVersion?: unknown;
  responseId?: unknown;
}

/** Whether the response is a refusal of the prompt itself: no candidates, and a block reason. */
export function blockReasonOf(response: GeminiResponse): string | null {
  const feedback = response.promptFeedback;
  const noCandidates = !Array.isArray(response.candidates) || response.candidates.length === 0;
  return noCandidates && isObject(feedback) && typeof feedback.blockReason === 'string' ? feedback.blockReason : null;
}

export const responseIdOf = (response: GeminiResponse): string => (typeof response.responseId === 'string' ? response.responseId : '');
export const modelOf = (response: GeminiResponse): string => (typeof response.modelVersion === 'string' ? response.modelVersion : '');

/** The chat.completion for a Gemini response. `createdSec`: Gemini's answer has no creation time the SDK types carry. */
export function toOpenAiCompletion(response: GeminiResponse, createdSec: number): Record<string, unknown> {
  const id = responseIdOf(response);
  const candidates = Array.isArray(response.candidates) ? (response.candidates as unknown[]) : [];
  const choices: Json[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidateOf(candidates[i], i);
    if (c === null) continue;
    const toolCalls = c.calls.map((t, k) => ({ id: toolCallIdOf(t.call, id, c.index, k), type: 'function' as const, function: { name: t.name, arguments: JSON.stringify(t.args) } }));
    choices.push(choiceOf(c.index, c.text, toolCalls, finishReasonOf(c.finishReason, c.calls.length > 0)));
  }
  if (choices.length === 0 && blockReasonOf(response) !== null) choices.push(choiceOf(0, null, [], 'content_filter'));
  choices.sort((a, b) => (a.index as number) - (b.index as number));
  return completionOf(id, createdSec, modelOf(response), choices, usageOf(response.usageMetadata ?? {}));
}

/**
 * A JSON response as the client gets it: a GenerateContentResponse as a chat.completion, a Google
 * error as an OpenAI error (the status is the pipeline's, errors.ts); anything else as it came.
 */
export function translateJson(createdSec: number): JsonTranslate {
  return (body, bytes) => {
    if (!isObject(body)) return untranslated(bytes);
    if (isObject(body.error)) return { ...untranslated(bytes), bytes: Buffer.from(JSON.stringify(toOpenAiError(null, body).body)) };
    if (!('candidates' in body) && !('promptFeedback' in body)) return untranslated(bytes);
    const response = body as GeminiResponse;
    const usage = isObject(response.usageMetadata) ? usageOf(response.usageMetadata) : null;
    return { bytes: Buffer.from(JSON.stringify(toOpenAiCompletion(response, createdSec))), usage, responseModel: modelOf(response) || null, complete: true };
  };
}

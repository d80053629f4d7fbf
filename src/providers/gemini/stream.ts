/**
 * Gemini's `streamGenerateContent?alt=sse` stream (one GenerateContentResponse per event, each
 * with the next part of every candidate), translated event by event into OpenAI
 * chat.completion.chunk events as the bytes arrive. Nothing is held back but the unfinished tail of
 * one event (providers/sse.ts); every push returns the OpenAI bytes its complete events make.
 *
 *   a candidate first seen    → its role chunk; id and model come from the first event
 *   text parts                → content (thought parts: nothing)
 *   functionCall parts        → a whole tool call: id (made as response.ts makes it), name, arguments
 *   finishReason              → the candidate's finish_reason chunk (response.ts maps it)
 *   promptFeedback.blockReason without candidates → finish_reason content_filter
 *   usageMetadata             → kept: Google repeats it, cumulative, in every event; the last counts
 *   an event with `error`     → OpenAI's error event (errors.ts); nothing after it
 *   the end of the stream     → the usage chunk when the client asked for one, then `[DONE]`
 *
 * Gemini's stream has no closing event: it is whole when it ends after every candidate it started
 * has finished. One that ends before, or sends an event that is not JSON, gets the error event an
 * OpenAI stream gets (openai/response.ts), so SDKs raise instead of taking a broken answer for a
 * whole one. Usage is reported once a finish reason came; a stream cut before is billed by the
 * pipeline for what the client got (`contentEvents`: text deltas and tool calls).
 */
import { isObject, type Json } from '../chat-request.js';
import type { FinishReason } from '../openai-completion.js';
import { SseTranslatedStream } from '../translated-stream.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';
import { blockReasonOf, candidateOf, finishReasonOf, modelOf, responseIdOf, toolCallIdOf, usageOf, type GeminiResponse } from './response.js';

interface Choice {
  /** Tool calls sent so far: the next one's OpenAI index and its position for its id. */
  calls: number;
  finished: boolean;
}

export class ToOpenAiStream extends SseTranslatedStream {
  /** Set by the first event, with the chunks' id and model. */
  private identified = false;
  private responseId = '';
  private model: string | null = null;
  private readonly choices = new Map<number, Choice>();
  private lastUsage: Usage | null = null;

  /** Gemini's stream has no closing event: it is whole when every candidate it started has finished. */
  protected answered(): boolean {
    if (this.choices.size === 0) return false;
    for (const choice of this.choices.values()) if (!choice.finished) return false;
    return true;
  }

  protected usage(): Usage | null {
    return this.answered() ? this.lastUsage : null;
  }

  protected responseModel(): string | null {
    return this.model;
  }

  protected translate(event: Json): void {
    if (isObject(event.error)) this.chunks.error(toOpenAiError(null, event).body);
    else this.translateResponse(event as GeminiResponse);
  }

  private translateResponse(response: GeminiResponse): void {
    if (!this.identified) {
      this.identified = true;
      this.responseId = responseIdOf(response);
      this.model = modelOf(response);
      this.chunks.identify(this.responseId, this.model);
    }
    if (isObject(response.usageMetadata)) this.lastUsage = usageOf(response.usageMetadata);
    const candidates = Array.isArray(response.candidates) ? (response.candidates as unknown[]) : [];
    for (let i = 0; i < candidates.length; i++) {
      const c = candidateOf(candidates[i], i);
      if (c === null) continue;
      const choice = this.choiceAt(c.index);
      if (choice.finished) continue;
      if (c.text !== null && c.text !== '') {
        this.contentEvents++;
        this.chunks.content(c.index, c.text);
      }
      for (const call of c.calls) {
        this.contentEvents++;
        const id = toolCallIdOf(call.call, this.responseId, c.index, choice.calls);
        this.chunks.toolCall(c.index, choice.calls, id, call.name, JSON.stringify(call.args));
        choice.calls++;
      }
      if (typeof c.finishReason === 'string' && c.finishReason !== '' && c.finishReason !== 'FINISH_REASON_UNSPECIFIED') {
        this.finishChoice(c.index, choice, finishReasonOf(c.finishReason, choice.calls > 0));
      }
    }
    if (candidates.length === 0 && blockReasonOf(response) !== null) this.finishChoice(0, this.choiceAt(0), 'content_filter');
  }

  /** The choice's state, sending its role chunk when it is new. */
  private choiceAt(index: number): Choice {
    let choice = this.choices.get(index);
    if (choice === undefined) {
      this.choices.set(index, (choice = { calls: 0, finished: false }));
      this.chunks.role(index);
    }
    return choice;
  }

  private finishChoice(index: number, choice: Choice, reason: FinishReason): void {
    if (choice.finished) return;
    choice.finished = true;
    this.chunks.finish(index, reason);
  }

  protected finish(): void {
    if (this.options.includeUsage) this.chunks.usage(this.lastUsage ?? usageOf({}));
    this.chunks.done();
  }
}

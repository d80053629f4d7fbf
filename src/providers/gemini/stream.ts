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
import { isObject } from '../chat-request.js';
import type { ResponseObserver, ResponseReport } from '../openai/response.js';
import { OpenAiChunks } from '../openai-chunks.js';
import type { FinishReason } from '../openai-completion.js';
import { eventObject, SseSplitter, type Verdict } from '../sse.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';
import { blockReasonOf, candidateOf, finishReasonOf, modelOf, responseIdOf, toolCallIdOf, usageOf, type GeminiResponse } from './response.js';

export interface StreamOptions {
  /** The client asked for `stream_options.include_usage`: a usage chunk (no choices) comes before `[DONE]`. */
  readonly includeUsage: boolean;
  /** The chunks' `created`. */
  readonly createdSec: number;
}

interface Choice {
  /** Tool calls sent so far: the next one's OpenAI index and its position for its id. */
  calls: number;
  finished: boolean;
}

export class ToOpenAiStream implements ResponseObserver {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);
  private readonly chunks: OpenAiChunks;
  /** Set by the first event, with the chunks' id and model. */
  private identified = false;
  private responseId = '';
  private responseModel: string | null = null;
  private readonly choices = new Map<number, Choice>();
  private usage: Usage | null = null;
  private contentEvents = 0;

  constructor(private readonly options: StreamOptions) {
    this.chunks = new OpenAiChunks(options.createdSec);
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    if (this.chunks.open) this.splitter.push(chunk, endOfStream);
    if (endOfStream && this.chunks.open) {
      if (this.allFinished()) this.finish();
      else this.chunks.truncated();
    }
    return this.chunks.take();
  }

  report(): ResponseReport {
    return { usage: this.allFinished() ? this.usage : null, responseModel: this.responseModel, contentEvents: this.contentEvents, complete: this.chunks.finished };
  }

  private allFinished(): boolean {
    if (this.choices.size === 0) return false;
    for (const choice of this.choices.values()) if (!choice.finished) return false;
    return true;
  }

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (!this.chunks.open) return 'last';
    const event = eventObject(bytes, start, end);
    // A comment, or an event without data: nothing to translate.
    if (event === undefined) return 'keep';
    if (event === null) this.chunks.malformed();
    else if (isObject(event.error)) this.chunks.error(toOpenAiError(null, event).body);
    else this.translate(event as GeminiResponse);
    return this.chunks.open ? 'keep' : 'last';
  }

  private translate(response: GeminiResponse): void {
    if (!this.identified) {
      this.identified = true;
      this.responseId = responseIdOf(response);
      this.responseModel = modelOf(response);
      this.chunks.identify(this.responseId, this.responseModel);
    }
    if (isObject(response.usageMetadata)) this.usage = usageOf(response.usageMetadata);
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

  private finish(): void {
    if (this.options.includeUsage) this.chunks.usage(this.usage ?? usageOf({}));
    this.chunks.done();
  }
}

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
import { openAiUsageOf } from '../anthropic/response.js';
import { isObject } from '../chat-request.js';
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT, type ResponseObserver, type ResponseReport } from '../openai/response.js';
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

const EMPTY = Buffer.alloc(0);
const DONE = 'data: [DONE]\n\n';
const TRUNCATED = TRUNCATED_STREAM_EVENT.toString('utf8');
const MALFORMED = MALFORMED_STREAM_EVENT.toString('utf8');

export class ToOpenAiStream implements ResponseObserver {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);
  /** The OpenAI events of the current push. */
  private readonly out: string[] = [];
  /** Every chunk's start, up to its choices; null until the first event set its id and model. */
  private head: string | null = null;
  private responseId = '';
  private responseModel: string | null = null;
  private readonly choices = new Map<number, Choice>();
  private usage: Usage | null = null;
  private contentEvents = 0;
  /** `finished`: `[DONE]` sent; `failed`: an error event sent. Either way nothing more reaches the client. */
  private state: 'open' | 'finished' | 'failed' = 'open';

  constructor(private readonly options: StreamOptions) {}

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    if (this.state !== 'open') return EMPTY;
    this.splitter.push(chunk, endOfStream);
    if (endOfStream && this.state === 'open') {
      if (this.allFinished()) this.finish();
      else this.fail(TRUNCATED);
    }
    if (this.out.length === 0) return EMPTY;
    const bytes = Buffer.from(this.out.length === 1 ? this.out[0]! : this.out.join(''));
    this.out.length = 0;
    return bytes;
  }

  report(): ResponseReport {
    const finished = this.state === 'finished';
    return { usage: this.allFinished() ? this.usage : null, responseModel: this.responseModel, contentEvents: this.contentEvents, complete: finished };
  }

  private allFinished(): boolean {
    if (this.choices.size === 0) return false;
    for (const choice of this.choices.values()) if (!choice.finished) return false;
    return true;
  }

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (this.state !== 'open') return 'last';
    const event = eventObject(bytes, start, end);
    // A comment, or an event without data: nothing to translate.
    if (event === undefined) return 'keep';
    if (event === null) this.fail(MALFORMED);
    else if (isObject(event.error)) this.fail(`data: ${JSON.stringify(toOpenAiError(null, event).body)}\n\n`);
    else this.translate(event as GeminiResponse);
    return this.state === 'open' ? 'keep' : 'last';
  }

  private translate(response: GeminiResponse): void {
    if (this.head === null) {
      this.responseId = responseIdOf(response);
      this.responseModel = modelOf(response);
      this.head = `data: {"id":${JSON.stringify(this.responseId)},"object":"chat.completion.chunk","created":${this.options.createdSec},"model":${JSON.stringify(this.responseModel)},"choices":[`;
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
        this.delta(c.index, `{"content":${JSON.stringify(c.text)}}`);
      }
      for (const call of c.calls) {
        this.contentEvents++;
        const id = toolCallIdOf(call.call, this.responseId, c.index, choice.calls);
        this.delta(c.index, `{"tool_calls":[{"index":${choice.calls},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(call.name)},"arguments":${JSON.stringify(JSON.stringify(call.args))}}}]}`);
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
      this.delta(index, '{"role":"assistant","content":""}');
    }
    return choice;
  }

  private finishChoice(index: number, choice: Choice, reason: string): void {
    if (choice.finished) return;
    choice.finished = true;
    this.out.push(`${this.head!}{"index":${index},"delta":{},"logprobs":null,"finish_reason":"${reason}"}]}\n\n`);
  }

  private finish(): void {
    if (this.options.includeUsage) this.out.push(`${this.head!}],"usage":${JSON.stringify(openAiUsageOf(this.usage ?? usageOf({})))}}\n\n`);
    this.out.push(DONE);
    this.state = 'finished';
  }

  private fail(errorEvent: string): void {
    this.out.push(errorEvent);
    this.state = 'failed';
  }

  private delta(index: number, delta: string): void {
    this.out.push(`${this.head!}{"index":${index},"delta":${delta},"logprobs":null,"finish_reason":null}]}\n\n`);
  }
}

/**
 * Bedrock's ConverseStream (`ConverseStreamOutput` in `@aws-sdk/client-bedrock-runtime`), framed as
 * `application/vnd.amazon.eventstream` (eventstream.ts), translated message by message into OpenAI
 * chat.completion.chunk events as the bytes arrive. Nothing is held back but one unfinished
 * message; every push returns the OpenAI bytes its complete messages make, never Bedrock's own.
 *
 *   messageStart          → the role chunk
 *   contentBlockStart     toolUse: a tool call (OpenAI's index counts tool calls) with id, name, empty arguments
 *   contentBlockDelta     text → content; toolUse.input → the tool call's argument fragment; reasoning → nothing
 *   contentBlockStop      a tool call whose arguments never came gets `{}`
 *   messageStop           → the finish_reason chunk
 *   metadata              usage → the usage chunk when the client asked for one, then `[DONE]`
 *   exception (`:message-type: exception`) → OpenAI's error event (errors.ts); nothing after it
 *
 * Text blocks have no contentBlockStart: their first delta starts them. Bedrock sends metadata after
 * messageStop; a stream that ends between the two is finished without usage (the pipeline bills it
 * from `contentEvents`). One that ends before messageStop, or breaks the framing, gets the error
 * event an OpenAI stream gets (openai/response.ts).
 */
import { isObject } from '../chat-request.js';
import type { ResponseObserver, ResponseReport } from '../openai/response.js';
import { OpenAiChunks } from '../openai-chunks.js';
import type { FinishReason } from '../openai-completion.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';
import { EventStreamDecoder, EventStreamError, type EventMessage } from './eventstream.js';
import { bedrockUsageOf, finishReasonOf, type AnswerIdentity, type BedrockUsage } from './response.js';

export interface StreamOptions extends AnswerIdentity {
  /** The client asked for `stream_options.include_usage`: a usage chunk (no choices) comes before `[DONE]`. */
  readonly includeUsage: boolean;
}

interface ToolCall {
  readonly index: number;
  sentArguments: boolean;
}

/** Converse events are a few hundred bytes; a megabyte leaves room for a whole tool input in one delta. */
const MAX_EVENT_BYTES = 1024 * 1024;

export class ToOpenAiStream implements ResponseObserver {
  private readonly decoder = new EventStreamDecoder(MAX_EVENT_BYTES);
  private readonly chunks: OpenAiChunks;
  private usage: Usage | null = null;
  private finishReason: FinishReason | null = null;
  private readonly tools = new Map<number, ToolCall>();
  private contentEvents = 0;
  private ended = false;

  constructor(private readonly options: StreamOptions) {
    this.chunks = new OpenAiChunks(options.createdSec, options.id, options.model);
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    this.ended ||= endOfStream;
    if (this.chunks.open) this.decode(chunk);
    if (endOfStream && this.chunks.open) {
      if (this.finishReason !== null) this.finish();
      else this.chunks.truncated();
    }
    return this.chunks.take();
  }

  report(): ResponseReport {
    return {
      usage: this.usage,
      responseModel: this.finishReason === null ? null : this.options.model,
      contentEvents: this.contentEvents,
      complete: this.ended && this.chunks.finished,
    };
  }

  private decode(chunk: Buffer): void {
    let messages: EventMessage[] = [];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof EventStreamError)) throw err;
      this.chunks.malformed();
    }
    for (const message of messages) {
      if (!this.chunks.open) break;
      this.onMessage(message);
    }
  }

  private onMessage(message: EventMessage): void {
    let payload: unknown;
    try {
      payload = message.payload.length === 0 ? {} : JSON.parse(message.payload.toString('utf8'));
    } catch {
      payload = null;
    }
    const kind = message.headers[':message-type'];
    if (kind === 'exception') {
      const type = message.headers[':exception-type'];
      return this.chunks.error(toOpenAiError(null, typeof type === 'string' ? type : null, payload).body);
    }
    if (kind === 'error') {
      const text = message.headers[':error-message'];
      return this.chunks.error(toOpenAiError(null, null, { message: typeof text === 'string' ? text : null }).body);
    }
    if (!isObject(payload)) return this.chunks.malformed();
    switch (message.headers[':event-type']) {
      case 'messageStart':
        return this.chunks.role(0);
      case 'contentBlockStart':
        return this.startBlock(payload.contentBlockIndex, payload.start);
      case 'contentBlockDelta':
        return this.delta(payload.contentBlockIndex, payload.delta);
      case 'contentBlockStop':
        return this.stopBlock(payload.contentBlockIndex);
      case 'messageStop':
        return this.stop(payload.stopReason);
      case 'metadata':
        if (isObject(payload.usage)) this.usage = bedrockUsageOf(payload.usage as BedrockUsage);
        return this.finish();
      default:
      // Event types Bedrock may add: nothing for the client.
    }
  }

  private startBlock(index: unknown, start: unknown): void {
    const toolUse = isObject(start) ? start.toolUse : undefined;
    if (typeof index !== 'number' || !isObject(toolUse) || typeof toolUse.toolUseId !== 'string' || typeof toolUse.name !== 'string') return;
    const call: ToolCall = { index: this.tools.size, sentArguments: false };
    this.tools.set(index, call);
    this.chunks.toolCall(0, call.index, toolUse.toolUseId, toolUse.name, '');
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    if (typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.chunks.content(0, delta.text);
      return;
    }
    const call = typeof index === 'number' ? this.tools.get(index) : undefined;
    const input = isObject(delta.toolUse) ? delta.toolUse.input : undefined;
    if (call !== undefined && typeof input === 'string' && input !== '') {
      this.contentEvents++;
      this.arguments(call, input);
    }
  }

  private stopBlock(index: unknown): void {
    const call = typeof index === 'number' ? this.tools.get(index) : undefined;
    // A tool without parameters may get no fragment: its client still needs arguments that parse.
    if (call !== undefined && !call.sentArguments) this.arguments(call, '{}');
  }

  private stop(stopReason: unknown): void {
    if (this.finishReason !== null) return;
    this.finishReason = finishReasonOf(stopReason);
    this.chunks.finish(0, this.finishReason);
  }

  private finish(): void {
    if (this.finishReason === null) this.stop(null);
    if (this.options.includeUsage && this.usage !== null) this.chunks.usage(this.usage);
    this.chunks.done();
  }

  private arguments(call: ToolCall, fragment: string): void {
    call.sentArguments = true;
    this.chunks.toolArguments(0, call.index, fragment);
  }
}

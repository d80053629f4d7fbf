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
import type { FinishReason } from '../openai-completion.js';
import { FragmentedToolCalls, TranslatedStream } from '../translated-stream.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';
import { EventStreamDecoder, EventStreamError, type EventMessage } from './eventstream.js';
import { bedrockUsageOf, finishReasonOf, type AnswerIdentity, type BedrockUsage } from './response.js';

export interface StreamOptions extends AnswerIdentity {
  /** The client asked for `stream_options.include_usage`: a usage chunk (no choices) comes before `[DONE]`. */
  readonly includeUsage: boolean;
}

/** Converse events are a few hundred bytes; a megabyte leaves room for a whole tool input in one delta. */
const MAX_EVENT_BYTES = 1024 * 1024;

export class ToOpenAiStream extends TranslatedStream {
  private readonly decoder = new EventStreamDecoder(MAX_EVENT_BYTES);
  private readonly tools = new FragmentedToolCalls(this.chunks);
  private bedrockUsage: Usage | null = null;
  private finishReason: FinishReason | null = null;

  /** Converse's stream names neither its id nor its model: the adapter gives both. */
  private readonly model: string;

  constructor(options: StreamOptions) {
    super(options, options.id, options.model);
    this.model = options.model;
  }

  protected answered(): boolean {
    return this.finishReason !== null;
  }

  protected usage(): Usage | null {
    return this.bedrockUsage;
  }

  protected responseModel(): string | null {
    return this.finishReason === null ? null : this.model;
  }

  protected read(chunk: Buffer): void {
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
        return this.tools.stop(payload.contentBlockIndex);
      case 'messageStop':
        return this.stop(payload.stopReason);
      case 'metadata':
        if (isObject(payload.usage)) this.bedrockUsage = bedrockUsageOf(payload.usage as BedrockUsage);
        return this.finish();
      default:
      // Event types Bedrock may add: nothing for the client.
    }
  }

  private startBlock(index: unknown, start: unknown): void {
    const toolUse = isObject(start) ? start.toolUse : undefined;
    if (typeof index !== 'number' || !isObject(toolUse) || typeof toolUse.toolUseId !== 'string' || typeof toolUse.name !== 'string') return;
    this.tools.start(index, toolUse.toolUseId, toolUse.name, undefined);
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    const input = isObject(delta.toolUse) ? delta.toolUse.input : undefined;
    if (typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.chunks.content(0, delta.text);
    } else if (typeof input === 'string' && this.tools.fragment(index, input)) {
      this.contentEvents++;
    }
  }

  private stop(stopReason: unknown): void {
    if (this.finishReason !== null) return;
    this.finishReason = finishReasonOf(stopReason);
    this.chunks.finish(0, this.finishReason);
  }

  protected finish(): void {
    if (this.finishReason === null) this.stop(null);
    if (this.options.includeUsage && this.bedrockUsage !== null) this.chunks.usage(this.bedrockUsage);
    this.chunks.done();
  }
}

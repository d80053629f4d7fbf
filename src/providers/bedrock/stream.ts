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
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT, type ResponseObserver, type ResponseReport } from '../openai/response.js';
import { openAiUsageOf, type FinishReason } from '../anthropic/response.js';
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

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const EMPTY = Buffer.alloc(0);
const DONE = 'data: [DONE]\n\n';
const CHOICE_END = ',"logprobs":null,"finish_reason":null}]}\n\n';
const TRUNCATED = TRUNCATED_STREAM_EVENT.toString('utf8');
const MALFORMED = MALFORMED_STREAM_EVENT.toString('utf8');
/** Converse events are a few hundred bytes; a megabyte leaves room for a whole tool input in one delta. */
const MAX_EVENT_BYTES = 1024 * 1024;

export class ToOpenAiStream implements ResponseObserver {
  private readonly decoder = new EventStreamDecoder(MAX_EVENT_BYTES);
  private readonly out: string[] = [];
  /** Every chunk's start, up to its choices. */
  private readonly head: string;
  private usage: Usage | null = null;
  private finishReason: FinishReason | null = null;
  private readonly tools = new Map<number, ToolCall>();
  private contentEvents = 0;
  private state: 'open' | 'finished' | 'failed' = 'open';
  private ended = false;

  constructor(private readonly options: StreamOptions) {
    this.head = `data: {"id":${JSON.stringify(options.id)},"object":"chat.completion.chunk","created":${options.createdSec},"model":${JSON.stringify(options.model)},"choices":[`;
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    this.ended ||= endOfStream;
    if (this.state !== 'open') return EMPTY;
    let messages: EventMessage[] = [];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof EventStreamError)) throw err;
      this.fail(MALFORMED);
    }
    for (const message of messages) {
      if (this.state !== 'open') break;
      this.onMessage(message);
    }
    if (endOfStream && this.state === 'open') {
      if (this.finishReason !== null) this.finish();
      else this.fail(TRUNCATED);
    }
    if (this.out.length === 0) return EMPTY;
    const bytes = Buffer.from(this.out.length === 1 ? this.out[0]! : this.out.join(''));
    this.out.length = 0;
    return bytes;
  }

  report(): ResponseReport {
    return {
      usage: this.usage,
      responseModel: this.finishReason === null ? null : this.options.model,
      contentEvents: this.contentEvents,
      complete: this.ended && this.state === 'finished',
    };
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
      return this.fail(`data: ${JSON.stringify(toOpenAiError(null, typeof type === 'string' ? type : null, payload).body)}\n\n`);
    }
    if (kind === 'error') {
      const text = message.headers[':error-message'];
      return this.fail(`data: ${JSON.stringify(toOpenAiError(null, null, { message: typeof text === 'string' ? text : null }).body)}\n\n`);
    }
    if (!isObject(payload)) return this.fail(MALFORMED);
    switch (message.headers[':event-type']) {
      case 'messageStart':
        return this.choice('{"role":"assistant","content":""}');
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
    this.choice(`{"tool_calls":[{"index":${call.index},"id":${JSON.stringify(toolUse.toolUseId)},"type":"function","function":{"name":${JSON.stringify(toolUse.name)},"arguments":""}}]}`);
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    if (typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.choice(`{"content":${JSON.stringify(delta.text)}}`);
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
    this.out.push(`${this.head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${this.finishReason}"}]}\n\n`);
  }

  private finish(): void {
    if (this.finishReason === null) this.stop(null);
    if (this.options.includeUsage && this.usage !== null) this.out.push(`${this.head}],"usage":${JSON.stringify(openAiUsageOf(this.usage))}}\n\n`);
    this.out.push(DONE);
    this.state = 'finished';
  }

  private fail(errorEvent: string): void {
    this.out.push(errorEvent);
    this.state = 'failed';
  }

  private choice(delta: string): void {
    this.out.push(`${this.head}{"index":0,"delta":${delta}${CHOICE_END}`);
  }

  private arguments(call: ToolCall, fragment: string): void {
    call.sentArguments = true;
    this.choice(`{"tool_calls":[{"index":${call.index},"function":{"arguments":${JSON.stringify(fragment)}}}]}`);
  }
}

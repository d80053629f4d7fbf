/**
 * Anthropic's Messages stream (`RawMessageStreamEvent` in `@anthropic-ai/sdk`), translated event by
 * event into OpenAI chat.completion.chunk events as the bytes arrive. Nothing is held back but the
 * unfinished tail of one event (providers/sse.ts); every push returns the OpenAI bytes its complete
 * events make, and never the provider's own.
 *
 *   message_start        → the role chunk; id and model come from its message
 *   content_block_start  text: its text, if any; tool_use: a tool call (OpenAI's index counts tool
 *                        calls, not blocks) with id, name and empty arguments
 *   content_block_delta  text_delta → content; input_json_delta → the tool call's argument fragment
 *   content_block_stop   a tool call whose arguments never came gets its input whole (`{}`)
 *   message_delta        → the finish_reason chunk; its usage (cumulative) updates message_start's
 *   message_stop         → the usage chunk when the client asked for one, then `[DONE]`
 *   error                → OpenAI's error event (errors.ts); nothing after it
 *   ping, events and blocks without an OpenAI counterpart (thinking, server tools) → nothing
 *
 * A stream that ends after its message_delta is finished as if message_stop had come. One that ends
 * before, or sends an event that is not JSON, gets the error event an OpenAI stream gets
 * (openai/response.ts), so SDKs raise instead of taking a broken answer for a whole one.
 *
 * Usage is reported once message_delta brought the final count; a stream cut before it is billed by
 * the pipeline for what the client got (`contentEvents`: text deltas and tool-argument fragments).
 */
import { isObject, type Json } from '../chat-request.js';
import type { ResponseObserver, ResponseReport } from '../openai/response.js';
import { OpenAiChunks } from '../openai-chunks.js';
import type { FinishReason } from '../openai-completion.js';
import { eventObject, SseSplitter, type Verdict } from '../sse.js';
import { toOpenAiError } from './errors.js';
import { finishReasonOf, usageOf, type AnthropicUsage } from './response.js';

export interface StreamOptions {
  /** The client asked for `stream_options.include_usage`: a usage chunk (no choices) comes before `[DONE]`. */
  readonly includeUsage: boolean;
  /** The chunks' `created`: Anthropic's stream has no creation time. */
  readonly createdSec: number;
}

interface ToolCall {
  /** Its index among the message's tool calls. */
  readonly index: number;
  /** The input content_block_start gave, sent whole if no fragment follows. */
  readonly input: unknown;
  sentArguments: boolean;
}

const USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

export class ToOpenAiStream implements ResponseObserver {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);
  private readonly chunks: OpenAiChunks;
  private responseModel: string | null = null;
  private readonly usage: AnthropicUsage = {};
  /** message_delta reported the final usage. */
  private usageFinal = false;
  private finishReason: FinishReason | null = null;
  private readonly tools = new Map<number, ToolCall>();
  private contentEvents = 0;
  private ended = false;

  constructor(private readonly options: StreamOptions) {
    this.chunks = new OpenAiChunks(options.createdSec);
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    this.ended ||= endOfStream;
    if (this.chunks.open) this.splitter.push(chunk, endOfStream);
    if (endOfStream && this.chunks.open) {
      if (this.finishReason !== null) this.finish();
      else this.chunks.truncated();
    }
    return this.chunks.take();
  }

  report(): ResponseReport {
    return {
      usage: this.usageFinal ? usageOf(this.usage) : null,
      responseModel: this.responseModel,
      contentEvents: this.contentEvents,
      complete: this.ended && this.chunks.finished,
    };
  }

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (!this.chunks.open) return 'last';
    const event = eventObject(bytes, start, end);
    // A comment, or an event without data: nothing to translate.
    if (event === undefined) return 'keep';
    if (event === null) this.chunks.malformed();
    else this.translate(event);
    return this.chunks.open ? 'keep' : 'last';
  }

  private translate(event: Json): void {
    switch (event.type) {
      case 'message_start':
        return this.start(event.message);
      case 'content_block_start':
        return this.startBlock(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.stopBlock(event.index);
      case 'message_delta':
        return this.messageDelta(event.delta, event.usage);
      case 'message_stop':
        return this.finish();
      case 'error':
        return this.chunks.error(toOpenAiError(null, event).body);
      default:
      // ping, and event types Anthropic may add: nothing for the client.
    }
  }

  private start(message: unknown): void {
    if (!isObject(message)) return;
    const model = typeof message.model === 'string' ? message.model : '';
    this.responseModel = model;
    this.chunks.identify(typeof message.id === 'string' ? message.id : '', model);
    this.addUsage(message.usage);
    this.chunks.role(0);
  }

  private startBlock(index: unknown, block: unknown): void {
    if (!isObject(block)) return;
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') this.chunks.content(0, block.text);
    if (block.type !== 'tool_use' || typeof index !== 'number' || typeof block.id !== 'string' || typeof block.name !== 'string') return;
    const call: ToolCall = { index: this.tools.size, input: block.input, sentArguments: false };
    this.tools.set(index, call);
    this.chunks.toolCall(0, call.index, block.id, block.name, '');
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.chunks.content(0, delta.text);
      return;
    }
    const call = typeof index === 'number' ? this.tools.get(index) : undefined;
    if (delta.type === 'input_json_delta' && call !== undefined && typeof delta.partial_json === 'string' && delta.partial_json !== '') {
      this.contentEvents++;
      this.arguments(call, delta.partial_json);
    }
  }

  private stopBlock(index: unknown): void {
    const call = typeof index === 'number' ? this.tools.get(index) : undefined;
    // A tool without parameters may get no fragment: its client still needs arguments that parse.
    if (call !== undefined && !call.sentArguments) this.arguments(call, JSON.stringify(isObject(call.input) ? call.input : {}));
  }

  private messageDelta(delta: unknown, usage: unknown): void {
    if (isObject(usage)) {
      this.addUsage(usage);
      this.usageFinal = true;
    }
    if (this.finishReason !== null) return;
    this.finishReason = finishReasonOf(isObject(delta) ? delta.stop_reason : null);
    this.chunks.finish(0, this.finishReason);
  }

  private finish(): void {
    if (this.finishReason === null) this.messageDelta(null, null);
    if (this.options.includeUsage) this.chunks.usage(usageOf(this.usage));
    this.chunks.done();
  }

  /** Anthropic's delta usage is cumulative and may leave fields null: each number given replaces the last. */
  private addUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    for (const field of USAGE_FIELDS) if (typeof usage[field] === 'number') this.usage[field] = usage[field];
    if (isObject(usage.output_tokens_details)) this.usage.output_tokens_details = usage.output_tokens_details;
  }

  private arguments(call: ToolCall, fragment: string): void {
    call.sentArguments = true;
    this.chunks.toolArguments(0, call.index, fragment);
  }
}

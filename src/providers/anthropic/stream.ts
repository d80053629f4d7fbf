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
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT, type ResponseObserver, type ResponseReport } from '../openai/response.js';
import { eventObject, SseSplitter, type Verdict } from '../sse.js';
import { toOpenAiError } from './errors.js';
import { finishReasonOf, openAiUsageOf, usageOf, type AnthropicUsage, type FinishReason } from './response.js';

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

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const EMPTY = Buffer.alloc(0);
const DONE = 'data: [DONE]\n\n';
const CHOICE_END = ',"logprobs":null,"finish_reason":null}]}\n\n';
const TRUNCATED = TRUNCATED_STREAM_EVENT.toString('utf8');
const MALFORMED = MALFORMED_STREAM_EVENT.toString('utf8');
const USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

export class ToOpenAiStream implements ResponseObserver {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);
  /** The OpenAI events of the current push. */
  private readonly out: string[] = [];
  /** Every chunk's start, up to its choices: `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`. */
  private head: string;
  private responseModel: string | null = null;
  private readonly usage: AnthropicUsage = {};
  /** message_delta reported the final usage. */
  private usageFinal = false;
  private finishReason: FinishReason | null = null;
  private readonly tools = new Map<number, ToolCall>();
  private contentEvents = 0;
  /** `finished`: `[DONE]` sent; `failed`: an error event sent. Either way nothing more reaches the client. */
  private state: 'open' | 'finished' | 'failed' = 'open';
  private ended = false;

  constructor(private readonly options: StreamOptions) {
    this.head = this.headOf('', '');
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    this.ended ||= endOfStream;
    if (this.state !== 'open') return EMPTY;
    this.splitter.push(chunk, endOfStream);
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
      usage: this.usageFinal ? usageOf(this.usage) : null,
      responseModel: this.responseModel,
      contentEvents: this.contentEvents,
      complete: this.ended && this.state === 'finished',
    };
  }

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (this.state !== 'open') return 'last';
    const event = eventObject(bytes, start, end);
    // A comment, or an event without data: nothing to translate.
    if (event === undefined) return 'keep';
    if (event === null) this.fail(MALFORMED);
    else this.translate(event);
    return this.state === 'open' ? 'keep' : 'last';
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
        return this.fail(`data: ${JSON.stringify(toOpenAiError(null, event).body)}\n\n`);
      default:
      // ping, and event types Anthropic may add: nothing for the client.
    }
  }

  private start(message: unknown): void {
    if (!isObject(message)) return;
    const model = typeof message.model === 'string' ? message.model : '';
    this.responseModel = model;
    this.head = this.headOf(typeof message.id === 'string' ? message.id : '', model);
    this.addUsage(message.usage);
    this.choice('{"role":"assistant","content":""}');
  }

  private startBlock(index: unknown, block: unknown): void {
    if (!isObject(block)) return;
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') this.text(block.text);
    if (block.type !== 'tool_use' || typeof index !== 'number' || typeof block.id !== 'string' || typeof block.name !== 'string') return;
    const call: ToolCall = { index: this.tools.size, input: block.input, sentArguments: false };
    this.tools.set(index, call);
    this.choice(`{"tool_calls":[{"index":${call.index},"id":${JSON.stringify(block.id)},"type":"function","function":{"name":${JSON.stringify(block.name)},"arguments":""}}]}`);
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.text(delta.text);
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
    this.out.push(`${this.head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"${this.finishReason}"}]}\n\n`);
  }

  private finish(): void {
    if (this.finishReason === null) this.messageDelta(null, null);
    if (this.options.includeUsage) this.out.push(`${this.head}],"usage":${JSON.stringify(openAiUsageOf(usageOf(this.usage)))}}\n\n`);
    this.out.push(DONE);
    this.state = 'finished';
  }

  private fail(errorEvent: string): void {
    this.out.push(errorEvent);
    this.state = 'failed';
  }

  /** Anthropic's delta usage is cumulative and may leave fields null: each number given replaces the last. */
  private addUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    for (const field of USAGE_FIELDS) if (typeof usage[field] === 'number') this.usage[field] = usage[field];
    if (isObject(usage.output_tokens_details)) this.usage.output_tokens_details = usage.output_tokens_details;
  }

  private headOf(id: string, model: string): string {
    return `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${this.options.createdSec},"model":${JSON.stringify(model)},"choices":[`;
  }

  private choice(delta: string): void {
    this.out.push(`${this.head}{"index":0,"delta":${delta}${CHOICE_END}`);
  }

  private text(text: string): void {
    this.choice(`{"content":${JSON.stringify(text)}}`);
  }

  private arguments(call: ToolCall, fragment: string): void {
    call.sentArguments = true;
    this.choice(`{"tool_calls":[{"index":${call.index},"function":{"arguments":${JSON.stringify(fragment)}}}]}`);
  }
}

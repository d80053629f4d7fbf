/**
 * An OpenAI chat.completion.chunk stream translated, event by event as the bytes arrive, into the
 * Anthropic Messages stream (`RawMessageStreamEvent` in `@anthropic-ai/sdk`) an Anthropic SDK client
 * reads. Nothing is held back but the unfinished tail of one event (providers/sse.ts).
 *
 *   first chunk              → message_start (id, model; usage zero: OpenAI reports it at the end)
 *   delta.content / refusal  → a text block (started on the first text after another block) and its text_delta
 *   delta.tool_calls         → a tool_use block per call (id, name), argument fragments as input_json_delta
 *   finish_reason            → kept for message_delta (a usage chunk may still follow)
 *   usage chunk              → kept for message_delta
 *   [DONE]                   → content_block_stop, message_delta (stop_reason, usage), message_stop
 *   an error event           → Anthropic's `event: error` (errors.ts); nothing after it
 *
 * Anthropic's blocks follow one another: a fragment for a tool call whose block was closed (OpenAI
 * streams each call whole, so only a broken stream does this) ends the stream with an error, as
 * does an event that is not JSON. A stream that ends without `[DONE]` is finished as if it had come
 * when it reached its finish_reason, and otherwise ends with an error, so SDKs raise instead of
 * taking a broken answer for a whole one.
 */
import { isObject, type Json } from '../../chat-request.js';
import { normaliseUsage, type ResponseObserver, type ResponseReport } from '../../openai/response.js';
import { eventData, SseSplitter, type Verdict } from '../../sse.js';
import type { Usage } from '../../usage.js';
import { anthropicErrorOf, errorBody, type AnthropicErrorBody } from './errors.js';
import { anthropicUsageOf, stopReasonOf } from './response.js';

const EMPTY = Buffer.alloc(0);
const ZERO_USAGE = { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 };
const TRUNCATED = errorBody('api_error', 'The provider ended the stream before the answer was complete.');
const MALFORMED = errorBody('api_error', 'The provider sent an event that is not valid; the stream was ended.');

const event = (type: string, data: string): string => `event: ${type}\ndata: ${data}\n\n`;

export class ToAnthropicStream implements ResponseObserver {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);
  /** The Anthropic events of the current push. */
  private readonly out: string[] = [];
  private started = false;
  /** The open block's index and, for a tool_use block, OpenAI's index of its call; -1: none open. */
  private blockIndex = -1;
  private openCall: number | null = null;
  private openIsText = false;
  /** OpenAI tool-call indexes whose block was opened. */
  private readonly calls = new Set<number>();
  private finishReason: unknown = null;
  private usage: Usage | null = null;
  private responseModel: string | null = null;
  private contentEvents = 0;
  /** `finished`: message_stop sent; `failed`: an error event sent. Either way nothing more reaches the client. */
  private state: 'open' | 'finished' | 'failed' = 'open';
  private ended = false;

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
    return { usage: this.usage, responseModel: this.responseModel, contentEvents: this.contentEvents, complete: this.ended && this.state === 'finished' };
  }

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (this.state !== 'open') return 'last';
    const data = eventData(bytes, start, end)?.trim();
    if (data === undefined || data === '') return 'keep';
    if (data === '[DONE]') {
      this.finish();
      return 'last';
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      this.fail(MALFORMED);
      return 'last';
    }
    if (!isObject(chunk)) this.fail(MALFORMED);
    else if (isObject(chunk.error)) this.fail(anthropicErrorOf(null, chunk).body);
    else this.onChunk(chunk);
    return this.state === 'open' ? 'keep' : 'last';
  }

  private onChunk(chunk: Json): void {
    this.start(chunk);
    if (isObject(chunk.usage)) this.usage = normaliseUsage(chunk.usage);
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((c) => isObject(c) && (c.index ?? 0) === 0) : undefined;
    if (!isObject(choice)) return;
    const delta = isObject(choice.delta) ? choice.delta : {};
    for (const text of [delta.content, delta.refusal]) if (typeof text === 'string' && text !== '') this.text(text);
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call) && this.state === 'open') this.toolCall(call);
    if (typeof choice.finish_reason === 'string') this.finishReason = choice.finish_reason;
  }

  private start(chunk: Json): void {
    if (this.started) return;
    this.started = true;
    const model = typeof chunk.model === 'string' ? chunk.model : '';
    if (model !== '') this.responseModel = model;
    const message = { id: typeof chunk.id === 'string' ? chunk.id : '', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: ZERO_USAGE };
    this.out.push(event('message_start', JSON.stringify({ type: 'message_start', message })));
  }

  private text(text: string): void {
    if (!this.openIsText) this.openBlock('{"type":"text","text":""}', null, true);
    this.contentEvents++;
    this.delta(`{"type":"text_delta","text":${JSON.stringify(text)}}`);
  }

  private toolCall(call: Json): void {
    const index = typeof call.index === 'number' ? call.index : 0;
    const fn = isObject(call.function) ? call.function : {};
    if (!this.calls.has(index)) {
      if (typeof call.id !== 'string' || typeof fn.name !== 'string') return this.fail(MALFORMED);
      this.calls.add(index);
      this.openBlock(`{"type":"tool_use","id":${JSON.stringify(call.id)},"name":${JSON.stringify(fn.name)},"input":{}}`, index, false);
    } else if (this.openCall !== index) return this.fail(MALFORMED);
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      this.contentEvents++;
      this.delta(`{"type":"input_json_delta","partial_json":${JSON.stringify(fn.arguments)}}`);
    }
  }

  private openBlock(block: string, call: number | null, isText: boolean): void {
    this.closeBlock();
    this.blockIndex++;
    this.openCall = call;
    this.openIsText = isText;
    this.out.push(event('content_block_start', `{"type":"content_block_start","index":${this.blockIndex},"content_block":${block}}`));
  }

  private closeBlock(): void {
    if (this.openCall === null && !this.openIsText) return;
    this.out.push(event('content_block_stop', `{"type":"content_block_stop","index":${this.blockIndex}}`));
    this.openCall = null;
    this.openIsText = false;
  }

  private delta(delta: string): void {
    this.out.push(event('content_block_delta', `{"type":"content_block_delta","index":${this.blockIndex},"delta":${delta}}`));
  }

  private finish(): void {
    this.start({});
    this.closeBlock();
    const usage = this.usage === null ? ZERO_USAGE : anthropicUsageOf(this.usage);
    const delta = { stop_reason: stopReasonOf(this.finishReason), stop_sequence: null };
    this.out.push(event('message_delta', JSON.stringify({ type: 'message_delta', delta, usage })));
    this.out.push(event('message_stop', '{"type":"message_stop"}'));
    this.state = 'finished';
  }

  private fail(error: AnthropicErrorBody): void {
    this.out.push(event('error', JSON.stringify(error)));
    this.state = 'failed';
  }
}

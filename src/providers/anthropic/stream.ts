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
import type { FinishReason } from '../openai-completion.js';
import { FragmentedToolCalls, SseTranslatedStream } from '../translated-stream.js';
import type { Usage } from '../usage.js';
import { toOpenAiError } from './errors.js';
import { finishReasonOf, usageOf, type AnthropicUsage } from './response.js';

const USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

export class ToOpenAiStream extends SseTranslatedStream {
  private readonly tools = new FragmentedToolCalls(this.chunks);
  private model: string | null = null;
  private readonly anthropicUsage: AnthropicUsage = {};
  /** message_delta reported the final usage. */
  private usageFinal = false;
  private finishReason: FinishReason | null = null;

  protected answered(): boolean {
    return this.finishReason !== null;
  }

  protected usage(): Usage | null {
    return this.usageFinal ? usageOf(this.anthropicUsage) : null;
  }

  protected responseModel(): string | null {
    return this.model;
  }

  protected translate(event: Json): void {
    switch (event.type) {
      case 'message_start':
        return this.start(event.message);
      case 'content_block_start':
        return this.startBlock(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.tools.stop(event.index);
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
    this.model = model;
    this.chunks.identify(typeof message.id === 'string' ? message.id : '', model);
    this.addUsage(message.usage);
    this.chunks.role(0);
  }

  private startBlock(index: unknown, block: unknown): void {
    if (!isObject(block)) return;
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') this.chunks.content(0, block.text);
    if (block.type !== 'tool_use' || typeof index !== 'number' || typeof block.id !== 'string' || typeof block.name !== 'string') return;
    this.tools.start(index, block.id, block.name, block.input);
  }

  private delta(index: unknown, delta: unknown): void {
    if (!isObject(delta)) return;
    if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
      this.contentEvents++;
      this.chunks.content(0, delta.text);
    } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string' && this.tools.fragment(index, delta.partial_json)) {
      this.contentEvents++;
    }
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

  protected finish(): void {
    if (this.finishReason === null) this.messageDelta(null, null);
    if (this.options.includeUsage) this.chunks.usage(usageOf(this.anthropicUsage));
    this.chunks.done();
  }

  /** Anthropic's delta usage is cumulative and may leave fields null: each number given replaces the last. */
  private addUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    for (const field of USAGE_FIELDS) if (typeof usage[field] === 'number') this.anthropicUsage[field] = usage[field];
    if (isObject(usage.output_tokens_details)) this.anthropicUsage.output_tokens_details = usage.output_tokens_details;
  }
}

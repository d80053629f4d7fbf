/**
 * What every stream translated into OpenAI chunks (anthropic/, bedrock/, gemini/ stream.ts) does
 * alike: nothing read after `[DONE]` or an error event; at the end of the stream, the closing
 * chunks when the answer came whole, else the truncation event an OpenAI stream gets, so SDKs
 * raise instead of taking a broken answer for a whole one; the report the pipeline bills from.
 * Each provider reads its own framing and events.
 */
import { isObject, type Json } from './chat-request.js';
import type { ResponseObserver, ResponseReport } from './openai/response.js';
import { OpenAiChunks } from './openai-chunks.js';
import { eventObject, SseSplitter, type Verdict } from './sse.js';
import type { Usage } from './usage.js';

export interface StreamOptions {
  /** The client asked for `stream_options.include_usage`: a usage chunk (no choices) comes before `[DONE]`. */
  readonly includeUsage: boolean;
  /** The chunks' `created`: none of these providers' streams has a creation time. */
  readonly createdSec: number;
}

export abstract class TranslatedStream implements ResponseObserver {
  protected readonly chunks: OpenAiChunks;
  /** What the client got, for billing a stream cut before its usage: text deltas and tool-call (argument) chunks. */
  protected contentEvents = 0;
  private ended = false;

  /** `id`, `model`: the chunks' until the stream names them. */
  constructor(
    protected readonly options: StreamOptions,
    id?: string,
    model?: string,
  ) {
    this.chunks = new OpenAiChunks(options.createdSec, id, model);
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    this.ended ||= endOfStream;
    if (this.chunks.open) this.read(chunk, endOfStream);
    if (endOfStream && this.chunks.open) {
      if (this.answered()) this.finish();
      else this.chunks.truncated();
    }
    return this.chunks.take();
  }

  report(): ResponseReport {
    return { usage: this.usage(), responseModel: this.responseModel(), contentEvents: this.contentEvents, complete: this.ended && this.chunks.finished };
  }

  /** Translates the provider's bytes, writing to `chunks`; stops once they are no longer open. */
  protected abstract read(chunk: Buffer, endOfStream: boolean): void;
  /** The stream may end here: every choice has its finish reason. */
  protected abstract answered(): boolean;
  /** The closing chunks, ending with `[DONE]`. */
  protected abstract finish(): void;
  protected abstract usage(): Usage | null;
  protected abstract responseModel(): string | null;
}

/** A stream of Server-Sent Events whose data is one JSON object each (Anthropic's, Gemini's). */
export abstract class SseTranslatedStream extends TranslatedStream {
  private readonly splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), false);

  protected read(chunk: Buffer, endOfStream: boolean): void {
    this.splitter.push(chunk, endOfStream);
  }

  /** Translates one event's data. */
  protected abstract translate(event: Json): void;

  private onEvent(bytes: Buffer, start: number, end: number): Verdict {
    if (!this.chunks.open) return 'last';
    const event = eventObject(bytes, start, end);
    // A comment, or an event without data: nothing to translate.
    if (event === undefined) return 'keep';
    if (event === null) this.chunks.malformed();
    else this.translate(event);
    return this.chunks.open ? 'keep' : 'last';
  }
}

/**
 * Tool calls whose arguments stream in fragments (Anthropic's and Bedrock's content blocks), by
 * the provider's block index; all in choice 0, the only one these providers give.
 */
export class FragmentedToolCalls {
  /** Each call's OpenAI index (it counts tool calls, not blocks), the input its start gave, and whether a fragment went out. */
  private readonly calls = new Map<number, { readonly index: number; readonly input: unknown; sentArguments: boolean }>();

  constructor(private readonly chunks: OpenAiChunks) {}

  /** A tool call's first chunk, with empty arguments; `input`: sent whole at its end if no fragment comes. */
  start(block: number, id: string, name: string, input: unknown): void {
    const index = this.calls.size;
    this.calls.set(block, { index, input, sentArguments: false });
    this.chunks.toolCall(0, index, id, name, '');
  }

  /** Sends a non-empty argument fragment of block `block`'s call; false when the block is no tool call. */
  fragment(block: unknown, fragment: string): boolean {
    const call = typeof block === 'number' ? this.calls.get(block) : undefined;
    if (call === undefined || fragment === '') return false;
    call.sentArguments = true;
    this.chunks.toolArguments(0, call.index, fragment);
    return true;
  }

  /** The end of block `block`: a tool without parameters may get no fragment, and its client still needs arguments that parse. */
  stop(block: unknown): void {
    const call = typeof block === 'number' ? this.calls.get(block) : undefined;
    if (call === undefined || call.sentArguments) return;
    call.sentArguments = true;
    this.chunks.toolArguments(0, call.index, JSON.stringify(isObject(call.input) ? call.input : {}));
  }
}

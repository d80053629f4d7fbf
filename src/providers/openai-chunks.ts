/**
 * The OpenAI chat.completion.chunk events a translated stream (anthropic/, bedrock/, gemini/
 * stream.ts) sends, written as text straight into the events of the current push: each provider
 * decides what its events mean, this module how OpenAI says it, so every translated stream reads
 * alike to the client, byte for byte.
 *
 * After `[DONE]` or an error event the stream is over: nothing more reaches the client.
 */
import { MALFORMED_STREAM_EVENT, TRUNCATED_STREAM_EVENT } from './openai/response.js';
import type { FinishReason } from './openai-completion.js';
import type { OpenAiErrorBody } from './translated-error.js';
import { openAiUsageOf, type Usage } from './usage.js';

const EMPTY = Buffer.alloc(0);
const DONE = 'data: [DONE]\n\n';
const CHOICE_END = ',"logprobs":null,"finish_reason":null}]}\n\n';
const TRUNCATED = TRUNCATED_STREAM_EVENT.toString('utf8');
const MALFORMED = MALFORMED_STREAM_EVENT.toString('utf8');

export class OpenAiChunks {
  /** The OpenAI events of the current push. */
  private readonly out: string[] = [];
  /** Every chunk's start, up to its choices: `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`. */
  private head: string;
  /** `finished`: `[DONE]` sent; `failed`: an error event sent. */
  private state: 'open' | 'finished' | 'failed' = 'open';

  /** `createdSec`: every chunk's `created`; `id` and `model` until `identify` names them. */
  constructor(
    private readonly createdSec: number,
    id = '',
    model = '',
  ) {
    this.head = this.headOf(id, model);
  }

  /** Neither `[DONE]` nor an error event sent yet. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** `[DONE]` sent. */
  get finished(): boolean {
    return this.state === 'finished';
  }

  /** The id and model of the chunks from now on. */
  identify(id: string, model: string): void {
    this.head = this.headOf(id, model);
  }

  /** A choice's first chunk. */
  role(choice: number): void {
    this.delta(choice, '{"role":"assistant","content":""}');
  }

  content(choice: number, text: string): void {
    this.delta(choice, `{"content":${JSON.stringify(text)}}`);
  }

  /** A tool call's first chunk, `index` its OpenAI index (it counts the choice's tool calls); `args` may be whole or '' (fragments follow). */
  toolCall(choice: number, index: number, id: string, name: string, args: string): void {
    const json = args === '' ? '""' : JSON.stringify(args);
    this.delta(choice, `{"tool_calls":[{"index":${index},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(name)},"arguments":${json}}}]}`);
  }

  /** A fragment of tool call `index`'s arguments. */
  toolArguments(choice: number, index: number, fragment: string): void {
    this.delta(choice, `{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(fragment)}}}]}`);
  }

  finish(choice: number, reason: FinishReason): void {
    this.out.push(`${this.head}{"index":${choice},"delta":{},"logprobs":null,"finish_reason":"${reason}"}]}\n\n`);
  }

  /** The usage chunk (no choices) a client gets when it asked for `stream_options.include_usage`. */
  usage(usage: Usage): void {
    this.out.push(`${this.head}],"usage":${JSON.stringify(openAiUsageOf(usage))}}\n\n`);
  }

  /** `[DONE]`: the stream is whole. */
  done(): void {
    this.out.push(DONE);
    this.state = 'finished';
  }

  /** The provider's error, as OpenAI's stream sends one; the stream is over. */
  error(body: OpenAiErrorBody): void {
    this.fail(`data: ${JSON.stringify(body)}\n\n`);
  }

  /** The stream ended before its answer did (openai/response.ts's event, so SDKs raise). */
  truncated(): void {
    this.fail(TRUNCATED);
  }

  /** The provider sent what is not one of its events. */
  malformed(): void {
    this.fail(MALFORMED);
  }

  /** The bytes of the events written since the last call. */
  take(): Buffer {
    if (this.out.length === 0) return EMPTY;
    const bytes = Buffer.from(this.out.length === 1 ? this.out[0]! : this.out.join(''));
    this.out.length = 0;
    return bytes;
  }

  private fail(event: string): void {
    this.out.push(event);
    this.state = 'failed';
  }

  private delta(choice: number, delta: string): void {
    this.out.push(`${this.head}{"index":${choice},"delta":${delta}${CHOICE_END}`);
  }

  private headOf(id: string, model: string): string {
    return `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${this.createdSec},"model":${JSON.stringify(model)},"choices":[`;
  }
}

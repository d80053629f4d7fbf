/**
 * What every wire format of the mock provider implements, and the pieces they share. A format owns
 * its paths, its credential header, the body checks its real API makes, its error bodies and its
 * answers; `server.ts` owns what is the same for all of them (stats, behaviour, limits, stream faults).
 */
import type { Behaviour } from './behaviour.js';
import type { LimitReport } from './rate-limit.js';
import type { StreamScript } from './stream.js';

export type Endpoint = 'chat' | 'embeddings' | 'completions' | 'count_tokens';

export interface WireRequest {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
}

/** An answer the provider gives instead of serving the request: its own status and error body. */
export interface Rejection {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a format needs to answer: the request's tokens and the mock's deterministic output. */
export interface AnswerContext {
  /** The instance's name and the request's number there: ids built from them are unique (`chatcmpl-mock-…`). */
  readonly instance: string;
  readonly sequence: number;
  /** The request's path (Bedrock names the model and streaming there). */
  readonly path: string;
  readonly createdSec: number;
  /** The request's path, query and headers (Gemini names the model and streaming in its path). */
  readonly request: WireRequest;
  readonly behaviour: Behaviour;
  /** Content chunk `i` of the answer (one completion token each). */
  word(i: number): string;
  /** Whether this instance saw this prompt-cache prefix before (and remembers it from now on). */
  cacheSeen(prefix: string): boolean;
}

/** Tokens the answer reports, for the mock's stats; counted only once the client got them. */
export interface ReportedUsage {
  /** Every prompt token, cached ones included (as OpenAI's `prompt_tokens`). */
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Of `promptTokens`: read from and written to the prompt cache (Anthropic reports both). */
  readonly cacheReadTokens?: number;
  readonly cacheCreationTokens?: number;
}

export const NO_USAGE: ReportedUsage = { promptTokens: 0, completionTokens: 0 };

/** `usage` is what the request costs; `reportsUsage` is false when the answer does not say (a stream without OpenAI's `include_usage`). */
export type Answer = { readonly usage: ReportedUsage; readonly reportsUsage: boolean } & (
  | { readonly kind: 'json'; readonly status?: number; readonly body: unknown }
  | { readonly kind: 'stream'; readonly script: StreamScript }
);

export interface WireFormat {
  /** The endpoint a request is for, or the provider's answer to a path or method it does not serve. */
  route(req: WireRequest): Endpoint | Rejection;
  /** The model a request names outside its body (Gemini's path); without it, the body's `model`. */
  modelOf?(req: WireRequest): string | null;
  /** Strict mode: the provider's answer to a wrong credential (a signature over `body`), required header, query parameter or path parameter. */
  checkRequest(req: WireRequest, expectedKey: string | undefined, body: Buffer): Rejection | null;
  /** Strict mode: the provider's answer to a body it refuses; `body` is undefined when it was not JSON. */
  checkBody(endpoint: Endpoint, body: unknown): Rejection | null;
  /** The provider's error answer for a status the behaviour asks for (`error_code` when it has one). */
  error(status: number, message: string, code: string | undefined): Rejection;
  /** The provider's 429 once the instance's per-minute limits are spent. */
  limitError(message: string): Rejection;
  /** The headers the provider reports its limits in, on every answer (the 429 included); none for one that reports none. */
  limitHeaders(report: LimitReport): Record<string, string>;
  answer(endpoint: Endpoint, body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer;
}

/** A JSON value's type as JSON Schema names it (`integer` for whole numbers). */
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as 'string' | 'boolean' | 'object';
}

/** Whether a value of type `actual` is allowed where the schema lists `allowed` (an integer is a number). */
export function typeAllowed(actual: JsonType, allowed: readonly JsonType[]): boolean {
  return allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
}

/** Every key of `body` that `params` does not list, and the first whose value has a type it does not allow. */
export function auditParams(
  body: Readonly<Record<string, unknown>>,
  params: Readonly<Record<string, readonly JsonType[]>>,
): { unknown: string[]; mistyped: { key: string; expected: readonly JsonType[]; actual: JsonType } | null } {
  const unknown: string[] = [];
  let mistyped: { key: string; expected: readonly JsonType[]; actual: JsonType } | null = null;
  for (const [key, value] of Object.entries(body)) {
    const expected = params[key];
    if (expected === undefined) unknown.push(key);
    else if (mistyped === null && !typeAllowed(jsonType(value), expected)) mistyped = { key, expected, actual: jsonType(value) };
  }
  return { unknown, mistyped };
}

/** Prompt tokens as the mock counts them: ⌈characters of text / 4⌉, at least 1. */
export function tokensOfChars(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

/** Characters of text in a message `content`: a string, or parts with `text`. */
export function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  let chars = 0;
  if (Array.isArray(content)) for (const part of content as Array<{ text?: unknown }>) if (typeof part?.text === 'string') chars += part.text.length;
  return chars;
}

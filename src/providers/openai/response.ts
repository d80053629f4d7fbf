/**
 * Reads an OpenAI chat-completions or text-completions response (JSON or SSE) for what we bill: the usage block and the
 * model that answered. SSE events are JSON-parsed only when they can hold a usage object.
 */
import { eventData, SseSplitter, type Verdict } from '../sse.js';
import type { Usage } from '../usage.js';

export interface ResponseReport {
  /** null when the response ended without a usage report. */
  readonly usage: Usage | null;
  readonly responseModel: string | null;
  /** Streams: events that carried answer text (providers stream about one token per event), for a stream cut before its usage. */
  readonly contentEvents: number;
  /**
   * The client got the whole answer: the body ended and was JSON, or the stream reached its end
   * (`[DONE]` or a `finish_reason`) and no error event of the router's followed.
   */
  readonly complete: boolean;
}

export interface ResponseObserver {
  /** Feeds one body chunk; returns what the client gets instead, or null to pass it unchanged. */
  push(chunk: Buffer, endOfStream: boolean): Buffer | null;
  report(): ResponseReport;
}

interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

export function normaliseUsage(u: OpenAiUsage): Usage {
  const promptTokens = count(u.prompt_tokens);
  const completionTokens = count(u.completion_tokens);
  return {
    promptTokens,
    cachedPromptTokens: Math.min(count(u.prompt_tokens_details?.cached_tokens), promptTokens),
    completionTokens,
    reasoningTokens: Math.min(count(u.completion_tokens_details?.reasoning_tokens), completionTokens),
    totalTokens: count(u.total_tokens) || promptTokens + completionTokens,
  };
}

const USAGE_KEY = Buffer.from('"usage"');
const CONTENT_KEY = Buffer.from('"content":"');
/** A text completion's chunk carries its answer in `text`. */
const TEXT_KEY = Buffer.from('"text":"');
const FINISH_KEY = Buffer.from('"finish_reason":"');

const EMPTY = Buffer.alloc(0);
/** Ends an event the stream broke off inside, so the error event after it is read as an event of its own. */
const EVENT_END = Buffer.from('\n\n');

/** An error event in OpenAI's format: SDKs raise it instead of taking a broken answer for a whole one. */
const errorEvent = (code: string, message: string) => Buffer.from(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code } })}\n\n`);

/** After a stream that ended without its end (no `[DONE]`, no `finish_reason`). */
export const TRUNCATED_STREAM_EVENT = errorEvent('upstream_stream_truncated', 'The provider ended the stream before the answer was complete.');
/** After an event whose data is neither JSON nor `[DONE]`; nothing the provider sends later reaches the client. */
export const MALFORMED_STREAM_EVENT = errorEvent('upstream_stream_malformed', 'The provider sent an event that is not valid; the stream was ended.');

/** Whether `bytes[at…]` starts with `data:` (compared byte by byte: no string made per line). */
function isDataField(bytes: Buffer, at: number): boolean {
  return bytes[at] === 0x64 && bytes[at + 1] === 0x61 && bytes[at + 2] === 0x74 && bytes[at + 3] === 0x61 && bytes[at + 4] === 0x3a;
}

/** Whether `bytes[first, last]` is exactly `[DONE]`. */
function isDoneValue(bytes: Buffer, first: number, last: number): boolean {
  return last - first === 5 && bytes[first] === 0x5b && bytes[first + 1] === 0x44 && bytes[first + 2] === 0x4f && bytes[first + 3] === 0x4e && bytes[first + 4] === 0x45 && bytes[last] === 0x5d;
}

/** What `framing` found in an event: something that is not a stream's event, one whose data lines are all well framed, or one that also ends the stream. */
const MALFORMED = 0;
const FRAMED = 1;
const DONE = 2;

/**
 * Whether every `data:` line of the event in `bytes[start, end)` holds `[DONE]`, nothing, or
 * something framed like a JSON object (a cheap check, no parse, that catches a cut event, an HTML
 * error page or garbage), and whether one holds `[DONE]`: the stream's end (a JSON string holds no
 * raw line break, so an answer quoting it does not end the stream). Bytes are compared one by one:
 * no string is made per line.
 */
function framing(bytes: Buffer, start: number, end: number): typeof MALFORMED | typeof FRAMED | typeof DONE {
  let found: typeof FRAMED | typeof DONE = FRAMED;
  let line = start;
  while (line < end) {
    let lineEnd = line;
    let b = 0;
    while (lineEnd < end && (b = bytes[lineEnd]!) !== 0x0a && b !== 0x0d) lineEnd++;
    if (lineEnd - line >= 5 && isDataField(bytes, line)) {
      let first = line + 5;
      let last = lineEnd - 1;
      while (first <= last && bytes[first] === 0x20) first++;
      while (last >= first && bytes[last] === 0x20) last--;
      if (first <= last && !(bytes[first] === 0x7b && bytes[last] === 0x7d)) {
        if (!isDoneValue(bytes, first, last)) return MALFORMED;
        found = DONE;
      }
    }
    line = lineEnd + 1;
  }
  return found;
}

/** Whether the data of the event `bytes[start, end)` is nothing, `[DONE]` or JSON. */
function parses(bytes: Buffer, start: number, end: number): boolean {
  const data = eventData(bytes, start, end);
  if (data === null || data.trim() === '' || data.trim() === '[DONE]') return true;
  try {
    JSON.parse(data);
    return true;
  } catch {
    return false;
  }
}

/** Whether `key` occurs in `bytes[start, end)` followed by something other than `"` (a non-empty string). */
function hasNonEmpty(bytes: Buffer, key: Buffer, start: number, end: number): boolean {
  const at = bytes.indexOf(key, start);
  return at !== -1 && at + key.length < end && bytes[at + key.length] !== 0x22;
}

/** True when `"usage"` is followed (after optional whitespace and a colon) by an object. */
function mayHoldUsage(bytes: Buffer, start: number, end: number): boolean {
  let at = bytes.indexOf(USAGE_KEY, start);
  while (at !== -1 && at < end) {
    let i = at + USAGE_KEY.length;
    while (i < end && (bytes[i] === 0x20 || bytes[i] === 0x3a || bytes[i] === 0x09)) i++;
    if (bytes[i] === 0x7b) return true;
    at = bytes.indexOf(USAGE_KEY, i);
  }
  return false;
}

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x09;

/**
 * The bytes `[from, to)` of a top-level `"usage":null` member, with one comma beside it, in the
 * event `bytes[start, end)`, or null. OpenAI sends it in every chunk once `include_usage` is on (`…,"usage":null}` or, with its
 * `obfuscation` padding, `…,"usage":null,"obfuscation":"…"}`) and omits it without the option; a
 * client that did not ask must get the chunk without it. Byte checks, without parsing the chunk:
 * `"usage"` then a colon is a key (a `"` inside a JSON string is escaped); it is top-level when the
 * `}` closing its object (found by a string-aware scan of what follows, short: a padding string at
 * most) ends a one-line `data: {…}`. Only the last `"usage": null` is tried; anything else passes
 * unchanged. The range is written into `cut`, which is returned: a stream cut in every chunk
 * reuses one pair (the splitter reads a verdict before it asks for the next).
 */
function nullUsageMember(bytes: Buffer, start: number, end: number, cut: [number, number]): readonly [number, number] | null {
  let key = lastIndexIn(bytes, USAGE_KEY, start, end - USAGE_KEY.length);
  let valueEnd = -1;
  for (; key !== -1; key = lastIndexIn(bytes, USAGE_KEY, start, key - 1)) {
    valueEnd = nullValueEnd(bytes, key + USAGE_KEY.length, end);
    if (valueEnd !== -1) break;
  }
  if (key === -1) return null;
  let i = closingBrace(bytes, valueEnd, end) + 1;
  if (i === 0) return null;
  while (i < end && isSpace(bytes[i])) i++;
  if (i < end && bytes[i] !== 0x0a && bytes[i] !== 0x0d) return null;
  // That line is a `data:` line holding one object.
  const lineStart = Math.max(start - 1, lastIndexIn(bytes, 0x0a, start, key), lastIndexIn(bytes, 0x0d, start, key)) + 1;
  let value = lineStart + 5;
  if (!isDataField(bytes, lineStart)) return null;
  while (isSpace(bytes[value])) value++;
  if (bytes[value] !== 0x7b) return null;
  let before = key - 1;
  while (isSpace(bytes[before])) before--;
  if (bytes[before] === 0x2c) return range(cut, before, valueEnd);
  if (before !== value) return null;
  // The first member: the comma after it goes, if there is one.
  let after = valueEnd;
  while (after < end && isSpace(bytes[after])) after++;
  return after < end && bytes[after] === 0x2c ? range(cut, key, after + 1) : range(cut, key, valueEnd);
}

function range(pair: [number, number], from: number, to: number): readonly [number, number] {
  pair[0] = from;
  pair[1] = to;
  return pair;
}

/** The last index of `value` in `bytes` starting at or before `at` and not before `start`, or -1. */
function lastIndexIn(bytes: Buffer, value: Buffer | number, start: number, at: number): number {
  if (at < start) return -1;
  const found = bytes.lastIndexOf(value, at);
  return found >= start ? found : -1;
}

/** Where `null` ends when `bytes[at]` starts `: null` (spaces allowed) before `end`, else -1. */
function nullValueEnd(bytes: Buffer, at: number, end: number): number {
  let i = at;
  while (isSpace(bytes[i])) i++;
  if (bytes[i++] !== 0x3a) return -1;
  while (isSpace(bytes[i])) i++;
  return i + 4 <= end && bytes[i] === 0x6e && bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c ? i + 4 : -1;
}

/** From `at` (outside any string), the `}` before `end` that closes the object `at` is in, on the same line; -1 if none. */
function closingBrace(bytes: Buffer, at: number, end: number): number {
  let depth = 0;
  for (let i = at; i < end; i++) {
    const b = bytes[i];
    if (b === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < end && bytes[i] !== 0x22 && bytes[i] !== 0x0a && bytes[i] !== 0x0d; i++) if (bytes[i] === 0x5c) i++;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (depth === 0) return b === 0x7d ? i : -1;
      depth--;
    } else if (b === 0x0a || b === 0x0d) return -1;
  }
  return -1;
}

/**
 * Above this a JSON body is not parsed whole: its usage object and model are cut out of it. An
 * embeddings batch is megabytes of floats, whose parse would hold the event loop for every request.
 */
const WHOLE_PARSE_MAX_BYTES = 64 * 1024;
const MODEL_KEY = Buffer.from('"model"');

/** The object after the last `key` (no string in it holds a brace: usage has numbers only), or null. */
function objectAfter(bytes: Buffer, key: Buffer): unknown {
  const at = bytes.lastIndexOf(key);
  const open = at === -1 ? -1 : bytes.indexOf(0x7b, at + key.length);
  if (open === -1) return null;
  let depth = 0;
  for (let i = open; i < bytes.length; i++) {
    if (bytes[i] === 0x7b) depth++;
    else if (bytes[i] === 0x7d && --depth === 0) return JSON.parse(bytes.toString('utf8', open, i + 1)) as unknown;
  }
  return null;
}

/** The string after the last `key`, or null. */
function stringAfter(bytes: Buffer, key: Buffer): string | null {
  const at = bytes.lastIndexOf(key);
  const open = at === -1 ? -1 : bytes.indexOf(0x22, at + key.length);
  const close = open === -1 ? -1 : bytes.indexOf(0x22, open + 1);
  return close === -1 ? null : (JSON.parse(bytes.toString('utf8', open, close + 1)) as string);
}

class JsonResponseObserver implements ResponseObserver {
  private readonly chunks: Buffer[] = [];
  private usage: Usage | null = null;
  private responseModel: string | null = null;
  private complete = false;

  push(chunk: Buffer, endOfStream: boolean): null {
    // Kept chunks are copied: a view would keep the whole gRPC message it came in alive.
    if (!endOfStream) {
      if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
      return null;
    }
    // The usual answer comes in one chunk, read where it lies.
    const bytes = this.chunks.length === 0 ? chunk : Buffer.concat([...this.chunks, chunk]);
    this.chunks.length = 0;
    try {
      const body = (
        bytes.length <= WHOLE_PARSE_MAX_BYTES ? JSON.parse(bytes.toString('utf8')) : { usage: objectAfter(bytes, USAGE_KEY), model: stringAfter(bytes, MODEL_KEY) }
      ) as { usage?: OpenAiUsage | null; model?: unknown };
      if (body.usage != null && typeof body.usage === 'object') this.usage = normaliseUsage(body.usage);
      if (typeof body.model === 'string') this.responseModel = body.model;
      this.complete = true;
    } catch {
      // Not JSON after all (an upstream error page): nothing to bill.
    }
    return null;
  }

  report(): ResponseReport {
    return { usage: this.usage, responseModel: this.responseModel, contentEvents: 0, complete: this.complete };
  }
}

class SseResponseObserver implements ResponseObserver {
  private readonly splitter: SseSplitter;
  private usage: Usage | null = null;
  private responseModel: string | null = null;
  /** Content events passed on to the client (the router's reply lets Envoy send each chunk on). */
  private contentEvents = 0;
  /** `[DONE]` or a `finish_reason` went by: the answer is whole. */
  private complete = false;
  /** A malformed event went by: the client gets it, an error event, and nothing more. */
  private malformed = false;
  private ended = false;
  /** Where the last `"usage": null` cut out of a chunk was (nullUsageMember). */
  private readonly cut: [number, number] = [0, 0];

  /** `hideUsageEvent`: the router asked for usage on the client's behalf, so the client must not see it. */
  constructor(private readonly hideUsageEvent: boolean) {
    this.splitter = new SseSplitter((bytes, start, end, terminated) => this.onEvent(bytes, start, end, terminated), hideUsageEvent);
  }

  private onEvent(chunk: Buffer, start: number, end: number, terminated: boolean): Verdict {
    // Every search below stays inside the event, which ends where `bytes` does: a chunk of many
    // events is read in linear time. Offsets stay the chunk's, and the usual chunk, one event, is
    // read without a view made of it.
    const bytes = end === chunk.length ? chunk : chunk.subarray(0, end);
    // A stream that ends inside an event may end inside its JSON just after a `}`: that one event is parsed.
    const framed = framing(bytes, start, end);
    if (framed === MALFORMED || (!terminated && !parses(bytes, start, end))) {
      this.malformed = true;
      return 'last';
    }
    if (hasNonEmpty(bytes, CONTENT_KEY, start, end) || hasNonEmpty(bytes, TEXT_KEY, start, end)) this.contentEvents++;
    if (!this.complete && (framed === DONE || hasNonEmpty(bytes, FINISH_KEY, start, end))) this.complete = true;
    if (!mayHoldUsage(bytes, start, end)) return (this.hideUsageEvent && nullUsageMember(bytes, start, end, this.cut)) || 'keep';
    const data = eventData(bytes, start, end);
    if (data === null) return 'keep';
    try {
      const chunk = JSON.parse(data) as { usage?: OpenAiUsage | null; model?: unknown; choices?: unknown[] };
      if (chunk.usage != null && typeof chunk.usage === 'object') {
        this.usage = normaliseUsage(chunk.usage);
        if (typeof chunk.model === 'string') this.responseModel = chunk.model;
        if (this.hideUsageEvent && Array.isArray(chunk.choices) && chunk.choices.length === 0) return 'drop';
      }
    } catch {
      // Framed like JSON but not JSON: passed on as it is; only the usage is lost.
    }
    return 'keep';
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer | null {
    if (this.malformed) return EMPTY;
    this.ended = endOfStream;
    const out = this.splitter.push(chunk, endOfStream);
    if (this.malformed) return this.withError(out ?? chunk, MALFORMED_STREAM_EVENT);
    if (!endOfStream || this.complete) return out;
    return this.withError(out ?? chunk, TRUNCATED_STREAM_EVENT);
  }

  private withError(out: Buffer, event: Buffer): Buffer {
    return Buffer.concat(this.splitter.endedInsideEvent ? [out, EVENT_END, event] : [out, event]);
  }

  report(): ResponseReport {
    return { usage: this.usage, responseModel: this.responseModel, contentEvents: this.contentEvents, complete: this.ended && this.complete && !this.malformed };
  }
}

export function observeResponse(contentType: string, hideUsageEvent: boolean): ResponseObserver | null {
  if (contentType.startsWith('text/event-stream')) return new SseResponseObserver(hideUsageEvent);
  if (contentType.startsWith('application/json')) return new JsonResponseObserver();
  return null;
}

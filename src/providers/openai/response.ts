/**
 * Reads an OpenAI chat-completions response (JSON or SSE) for what we bill: the usage block and the
 * model that answered. SSE events are JSON-parsed only when they can hold a usage object.
 */
import { eventData, SseSplitter } from '../sse.js';
import type { Usage } from '../usage.js';

export interface ResponseReport {
  /** null when the response ended without a usage report. */
  readonly usage: Usage | null;
  readonly responseModel: string | null;
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

class JsonResponseObserver implements ResponseObserver {
  private readonly chunks: Buffer[] = [];
  private usage: Usage | null = null;
  private responseModel: string | null = null;

  push(chunk: Buffer, endOfStream: boolean): null {
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
    if (endOfStream) {
      try {
        const body = JSON.parse(Buffer.concat(this.chunks).toString('utf8')) as { usage?: OpenAiUsage; model?: unknown };
        if (body.usage != null && typeof body.usage === 'object') this.usage = normaliseUsage(body.usage);
        if (typeof body.model === 'string') this.responseModel = body.model;
      } catch {
        // Not JSON after all (an upstream error page): nothing to bill.
      }
      this.chunks.length = 0;
    }
    return null;
  }

  report(): ResponseReport {
    return { usage: this.usage, responseModel: this.responseModel };
  }
}

class SseResponseObserver implements ResponseObserver {
  private readonly splitter: SseSplitter;
  private usage: Usage | null = null;
  private responseModel: string | null = null;

  /** `hideUsageEvent`: the router asked for usage on the client's behalf, so the client must not see it. */
  constructor(private readonly hideUsageEvent: boolean) {
    this.splitter = new SseSplitter((bytes, start, end) => this.onEvent(bytes, start, end), hideUsageEvent);
  }

  private onEvent(bytes: Buffer, start: number, end: number): 'keep' | 'drop' {
    if (!mayHoldUsage(bytes, start, end)) return 'keep';
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
      // A malformed event is passed to the client as it is; only the usage is lost.
    }
    return 'keep';
  }

  push(chunk: Buffer, endOfStream: boolean): Buffer | null {
    return this.splitter.push(chunk, endOfStream);
  }

  report(): ResponseReport {
    return { usage: this.usage, responseModel: this.responseModel };
  }
}

export function observeResponse(contentType: string, hideUsageEvent: boolean): ResponseObserver | null {
  if (contentType.startsWith('text/event-stream')) return new SseResponseObserver(hideUsageEvent);
  if (contentType.startsWith('application/json')) return new JsonResponseObserver();
  return null;
}

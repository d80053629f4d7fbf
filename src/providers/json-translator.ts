/**
 * A JSON response read whole and given to the client translated, for providers whose answers are
 * not OpenAI's (anthropic/, gemini/). Nothing reaches the client before the body ended: a JSON
 * document cannot be translated in parts. A body that is not JSON (a proxy's HTML page) reaches the
 * client as it came.
 */
import type { ResponseObserver, ResponseReport } from './openai/response.js';
import type { Usage } from './usage.js';

export interface JsonTranslation {
  /** What the client gets. */
  readonly bytes: Buffer;
  readonly usage: Usage | null;
  readonly responseModel: string | null;
  /** The body was an answer (not an error): the client got all of it. */
  readonly complete: boolean;
}

/** Translates a parsed body; `bytes` are the provider's own, for a body it does not recognise. */
export type JsonTranslate = (body: unknown, bytes: Buffer) => JsonTranslation;

/** A body passed on as it came: nothing to bill. */
export const untranslated = (bytes: Buffer): JsonTranslation => ({ bytes, usage: null, responseModel: null, complete: false });

const EMPTY = Buffer.alloc(0);

export class JsonTranslator implements ResponseObserver {
  private readonly chunks: Buffer[] = [];
  private report_: ResponseReport = { usage: null, responseModel: null, contentEvents: 0, complete: false };

  constructor(private readonly translate: JsonTranslate) {}

  push(chunk: Buffer, endOfStream: boolean): Buffer {
    // Copied: `chunk` belongs to a gRPC message that should not be kept alive.
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
    if (!endOfStream) return EMPTY;
    const bytes = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      return bytes;
    }
    const out = this.translate(body, bytes);
    this.report_ = { usage: out.usage, responseModel: out.responseModel, contentEvents: 0, complete: out.complete };
    return out.bytes;
  }

  report(): ResponseReport {
    return this.report_;
  }
}

/**
 * A response as an Anthropic SDK client gets it from a deployment that is not Anthropic's: the
 * deployment's own observer first (its answer in OpenAI's format, usage read as its provider
 * reports it), then the translation into Anthropic's: the stream's, or the JSON body's (a
 * chat.completion, or an error at `status`). Another content type passes as it came.
 */
import type { ResponseObserver, ResponseReport } from '../../openai/response.js';
import { anthropicJsonResponse } from './response.js';
import { ToAnthropicStream } from './stream.js';

/** The translation alone, for a body already in OpenAI's format (`status`: the one an OpenAI client would get). */
export function anthropicTranslator(contentType: string, status: number): ResponseObserver | null {
  if (contentType.startsWith('text/event-stream')) return new ToAnthropicStream();
  if (contentType.startsWith('application/json')) return anthropicJsonResponse(status);
  return null;
}

/**
 * `provider`: the deployment adapter's observer, made with `hideUsageEvent` false so the usage chunk
 * reaches the translation (which never passes it on as such); null when it has none.
 */
export function observeForAnthropicClient(provider: ResponseObserver | null, contentType: string, status: number): ResponseObserver | null {
  const translator = anthropicTranslator(contentType, status);
  if (translator === null) return provider;
  if (provider === null) return translator;
  return new Chained(provider, translator);
}

class Chained implements ResponseObserver {
  constructor(
    private readonly provider: ResponseObserver,
    private readonly translator: ResponseObserver,
  ) {}

  push(chunk: Buffer, endOfStream: boolean): Buffer | null {
    const openAi = this.provider.push(chunk, endOfStream) ?? chunk;
    return this.translator.push(openAi, endOfStream) ?? openAi;
  }

  /** Billing trusts the provider's own reading; the answer is whole only if the client got all of it in both formats. */
  report(): ResponseReport {
    const provider = this.provider.report();
    return { ...provider, complete: provider.complete && this.translator.report().complete };
  }
}

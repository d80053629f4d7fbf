/**
 * Which translator reads a Bedrock response for an OpenAI client: ConverseStream's eventstream, or
 * the JSON body (an answer, or an error at any status). Another content type passes as it came.
 */
import type { ResponseObserver } from '../openai/response.js';
import { JsonResponseTranslator, type AnswerIdentity } from './response.js';
import { ToOpenAiStream } from './stream.js';

export interface ObserveOptions extends AnswerIdentity {
  /** The client did not ask for `stream_options.include_usage` (Bedrock always reports usage). */
  readonly hideUsageEvent: boolean;
  /** The response's `x-amzn-errortype`, null when absent. */
  readonly errorType: string | null;
}

export function observeResponse(contentType: string, options: ObserveOptions): ResponseObserver | null {
  const identity: AnswerIdentity = { id: options.id, model: options.model, createdSec: options.createdSec };
  if (contentType.startsWith('application/vnd.amazon.eventstream')) return new ToOpenAiStream({ ...identity, includeUsage: !options.hideUsageEvent });
  if (contentType.startsWith('application/json')) return new JsonResponseTranslator(identity, options.errorType);
  return null;
}

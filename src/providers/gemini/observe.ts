/**
 * Which translator reads a Gemini response for an OpenAI client: the stream's, or the JSON body's
 * (a GenerateContentResponse, or a Google error at any status). Another content type passes as it came.
 */
import { JsonTranslator } from '../json-translator.js';
import type { ResponseObserver } from '../openai/response.js';
import { translateJson } from './response.js';
import { ToOpenAiStream } from './stream.js';

/**
 * `hideUsageEvent`: the client did not ask for `stream_options.include_usage` (Gemini always
 * reports usage; the translator adds OpenAI's usage chunk only when asked). `createdSec`: the
 * answer's `created`.
 */
export function observeResponse(contentType: string, hideUsageEvent: boolean, createdSec: number): ResponseObserver | null {
  if (contentType.startsWith('text/event-stream')) return new ToOpenAiStream({ includeUsage: !hideUsageEvent, createdSec });
  if (contentType.startsWith('application/json')) return new JsonTranslator(translateJson(createdSec));
  return null;
}

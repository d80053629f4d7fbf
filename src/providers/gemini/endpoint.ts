/**
 * Where and how Gemini's API is called (generativelanguage.googleapis.com, Google's REST
 * reference): the model is part of the path, and whether the answer streams is the path's method,
 * not a body field. `alt=sse` makes the stream Server-Sent Events, one GenerateContentResponse per
 * event; without it Google streams one JSON array, which nothing here reads.
 */
import type { AuthStyle } from '../adapter.js';

export const GEMINI_BASE_PATH = '/v1beta';
/** The API key travels in `x-goog-api-key`, never in the `key` query parameter (it would reach access logs). */
export const GEMINI_AUTH: AuthStyle = 'goog-api-key';

export const GENERATE_METHOD = ':generateContent';
export const STREAM_METHOD = ':streamGenerateContent';
export const STREAM_QUERY = { alt: 'sse' } as const;

/** The path under the base path for `providerModel`, with the stream's query when `stream`. */
export function chatPathOf(providerModel: string, stream: boolean): string {
  const model = `/models/${encodeURIComponent(providerModel)}`;
  return stream ? `${model}${STREAM_METHOD}?alt=${STREAM_QUERY.alt}` : `${model}${GENERATE_METHOD}`;
}

/**
 * Which translator reads an OpenAI-format response for an Anthropic SDK client: the stream's, or
 * the JSON body's (a chat.completion, or an error at `status`). Another content type passes as it came.
 */
import type { ResponseObserver } from '../../openai/response.js';
import { anthropicJsonResponse } from './response.js';
import { ToAnthropicStream } from './stream.js';

export function observeForAnthropicClient(contentType: string, status: number): ResponseObserver | null {
  if (contentType.startsWith('text/event-stream')) return new ToAnthropicStream();
  if (contentType.startsWith('application/json')) return anthropicJsonResponse(status);
  return null;
}

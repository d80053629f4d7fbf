/** The fallback reason in a provider's error body, read by that provider's own error classification. */
import type { FallbackReason } from '../routing/plan.js';
import type { ErrorKind } from './translated-error.js';

/** A refusal another deployment may serve (a context window, a content policy), or null; `kindOf` reads a parsed body. */
export function fallbackReasonFrom(errorBody: Buffer, kindOf: (body: unknown) => ErrorKind): FallbackReason | null {
  let body: unknown;
  try {
    body = JSON.parse(errorBody.toString('utf8'));
  } catch {
    return null;
  }
  const kind = kindOf(body);
  return kind === 'context_window' || kind === 'content_policy' ? kind : null;
}

/**
 * Reads a provider's error body for the failures the router answers with a fallback of their own
 * kind. OpenAI and Azure OpenAI name them by `error.code`; OpenAI-compatible servers (vLLM, proxies
 * in front of other vendors) often only say it in the message.
 */
import type { FallbackReason } from '../../routing/plan.js';

const BY_CODE: Readonly<Record<string, FallbackReason>> = {
  context_length_exceeded: 'context_window',
  string_above_max_length: 'context_window',
  content_filter: 'content_policy',
  content_policy_violation: 'content_policy',
  ResponsibleAIPolicyViolation: 'content_policy',
};

const CONTEXT_MESSAGE = /maximum context length|context length exceeded|context window|prompt is too long|too many tokens/i;
const POLICY_MESSAGE = /content (management )?polic|content filter|safety system|flagged/i;

export function fallbackReasonOf(body: Buffer): FallbackReason | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; innererror?: { code?: unknown } } } | null)?.error;
  if (typeof error !== 'object' || error === null) return null;
  for (const code of [error.code, error.innererror?.code]) if (typeof code === 'string' && BY_CODE[code] !== undefined) return BY_CODE[code];
  const message = typeof error.message === 'string' ? error.message : '';
  if (CONTEXT_MESSAGE.test(message)) return 'context_window';
  if (POLICY_MESSAGE.test(message)) return 'content_policy';
  return null;
}

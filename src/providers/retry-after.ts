/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Providers also send fractional
 * seconds (`1.5`), which are read as such. Azure OpenAI adds `retry-after-ms`, which is more precise.
 */
import type { Headers } from '../pipeline/types.js';

/**
 * The longest wait honoured: a provider's value past it (a bug, or a daily quota spent) cools the
 * deployment for an hour, after which one request finds out again; an unbounded one (`1e400`, a date
 * in the year 9999) would take it out of service for good.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

const SECONDS = /^\d+(\.\d+)?$/;

/** The deadline a response names, in ms since the epoch; null when it names none or an unreadable one. */
export function retryAtMs(headers: Headers, nowMs: number): number | null {
  const ms = headers['retry-after-ms']?.trim();
  if (ms !== undefined && SECONDS.test(ms)) return nowMs + Math.min(Number(ms), MAX_RETRY_AFTER_MS);
  const value = headers['retry-after']?.trim();
  if (value === undefined || value === '') return null;
  if (SECONDS.test(value)) return nowMs + Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.min(Math.max(nowMs, date), nowMs + MAX_RETRY_AFTER_MS);
}

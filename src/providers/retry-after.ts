/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Providers also send fractional
 * seconds (`1.5`), which are read as such. Azure OpenAI adds `retry-after-ms`, which is more precise.
 */
import type { Headers } from '../pipeline/types.js';

/** The deadline a response names, in ms since the epoch; null when it names none or an unreadable one. */
export function retryAtMs(headers: Headers, nowMs: number): number | null {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return nowMs + Number(ms);
  const value = headers['retry-after']?.trim();
  if (value === undefined || value === '') return null;
  if (/^\d+(\.\d+)?$/.test(value)) return nowMs + Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(nowMs, date);
}

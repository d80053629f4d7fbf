/** Feeding a response body to an observer the way Envoy does: in parts, the last one ending the stream. */
import type { ResponseObserver } from '../../src/providers/openai/response.js';

/** Feeds `parts` and returns what the client would receive. */
export function feed(observer: ResponseObserver, parts: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => out.push(observer.push(p, i === parts.length - 1) ?? p));
  return Buffer.concat(out);
}

/** `bytes` cut at `offsets` (any order, repeats and out-of-range ones allowed: they give empty parts). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = offsets.map((o) => Math.min(o, bytes.length)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const at of cuts) {
    parts.push(bytes.subarray(from, at));
    from = at;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

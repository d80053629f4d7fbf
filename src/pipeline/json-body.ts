/**
 * A request body read for JSON.parse without stalling the event loop: its structure checked for
 * what parsing would pay dearly for, then its text decoded — a slice per turn of the event loop when
 * the body is large, so only JSON.parse itself runs in one go. Measured (bench/token-count.ts, a
 * loaded 2-core machine): JSON.parse of 2 million nested arrays (4 MB) took 1.5 s and of 200,000
 * distinct member names (2.6 MB, each a new hidden class) 0.8 s; decoding 4 MB of 3-byte characters
 * at once 50–130 ms.
 */
import { RouterError } from '../errors.js';
import { COLON, isBlank, QUOTE, stringEnd } from '../json/splice.js';

/**
 * How deep objects and arrays may nest. Parsing deep nesting is slow and serialising it again (a
 * rewritten body) overflows the stack: a 500, where an unrewritten body passed. Far above what any
 * request needs: OpenAI's structured outputs allow 10 levels of schema nesting, about 40 levels of
 * JSON with the body's own.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Distinct member names in one body. OpenAI allows 5,000 properties in a structured-output schema,
 * 16 metadata keys and 300 logit-bias entries; repeated names (`role`, `content`) cost little and
 * are not limited.
 */
export const MAX_JSON_NAMES = 10_000;

/** Scanned or decoded per turn of the event loop; a body no larger is read in one go (a few ms). */
const SLICE_BYTES = 256 * 1024;

/**
 * Where a scan of the bytes outside strings has got to. A first pass tracks depth and counts
 * members; only a body with more members than MAX_JSON_NAMES gets a second pass that gathers their
 * names (as written: an escaped spelling counts apart).
 */
interface Scan {
  at: number;
  depth: number;
  members: number;
  names: Set<string> | null;
}

/** Scans up to `end` (a string is jumped over whole, even past it); returns why the body is refused, or null. */
function scan(bytes: Buffer, s: Scan, end: number): string | null {
  for (; s.at < end; s.at++) {
    const b = bytes[s.at];
    if (b === QUOTE) {
      const open = s.at;
      s.at = stringEnd(bytes, open);
      if (s.at === -1) {
        s.at = bytes.length; // unterminated: JSON.parse will say so
        return null;
      }
      if (s.names === null) continue;
      let next = s.at + 1;
      while (isBlank(bytes[next])) next++;
      if (bytes[next] === COLON && s.names.add(bytes.toString('latin1', open + 1, s.at)).size > MAX_JSON_NAMES) {
        return `The request body uses more than ${MAX_JSON_NAMES} distinct member names.`;
      }
    } else if (s.names !== null) {
      const quote = bytes.indexOf(QUOTE, s.at); // only names matter now
      s.at = (quote === -1 ? bytes.length : quote) - 1;
    } else if (b === COLON) s.members++;
    else if (b === 0x7b || b === 0x5b) {
      if (++s.depth > MAX_JSON_DEPTH) return `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`;
    } else if (b === 0x7d || b === 0x5d) s.depth--;
  }
  if (s.at >= bytes.length && s.names === null && s.members > MAX_JSON_NAMES) {
    s.at = 0;
    s.names = new Set();
  }
  return null;
}

const scanned = (bytes: Buffer, s: Scan) => s.at >= bytes.length && (s.names !== null || s.members <= MAX_JSON_NAMES);

/**
 * The body's text, once its structure is found affordable; a 400 `invalid_request` (thrown, or the
 * promise's rejection) otherwise. Synchronous for a body of up to SLICE_BYTES.
 */
export function readBody(bytes: Buffer): string | Promise<string> {
  const s: Scan = { at: 0, depth: 0, members: 0, names: null };
  if (bytes.length <= SLICE_BYTES) {
    let why: string | null = null;
    while (why === null && !scanned(bytes, s)) why = scan(bytes, s, bytes.length);
    if (why !== null) throw new RouterError('invalid_request', why);
    return bytes.toString('utf8');
  }
  // As Buffer#toString decodes: a byte-order mark is kept (and JSON.parse refuses it), bad bytes become U+FFFD.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  return new Promise((resolve, reject) => {
    let text = '';
    let decoded = 0;
    const next = () => {
      try {
        if (!scanned(bytes, s)) {
          // Gathering names costs more a byte (a string each): smaller slices.
          const why = scan(bytes, s, Math.min(s.at + (s.names === null ? SLICE_BYTES : SLICE_BYTES / 8), bytes.length));
          if (why !== null) throw new RouterError('invalid_request', why);
        } else {
          const end = Math.min(decoded + SLICE_BYTES, bytes.length);
          text += decoder.decode(bytes.subarray(decoded, end), { stream: end < bytes.length });
          decoded = end;
          if (decoded === bytes.length) return resolve(text);
        }
        setImmediate(next);
      } catch (err) {
        reject(err);
      }
    };
    next();
  });
}

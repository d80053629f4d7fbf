/**
 * Incremental Server-Sent Events splitter. Envoy hands us arbitrary byte slices: an event, a line
 * ending or a UTF-8 character may straddle two of them. The splitter works on bytes and only cuts at
 * blank lines (ASCII, never inside a multi-byte character), so each event is decoded whole.
 *
 * Optionally it rewrites what the client sees (`push` returns the replacement chunk): an event can be
 * dropped or have bytes cut out of it. When rewriting is enabled an unfinished event at the end of a
 * chunk is held back until it completes, so an event can be changed even when it arrives split.
 * Without it, chunks pass as they are and an event can only end the stream.
 */

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/**
 * What the client gets of one event: all of it, nothing, all of it and nothing after it (`last`), or
 * all but the bytes `[from, to)` (offsets into the handler's `bytes`). Only `keep` and `last` are
 * honoured when the splitter does not rewrite.
 */
export type Verdict = 'keep' | 'drop' | 'last' | readonly [from: number, to: number];

/**
 * Decides about one complete event: `bytes[start, end)` includes its terminating blank line, unless
 * `terminated` is false: the stream ended inside it.
 */
export type EventHandler = (bytes: Buffer, start: number, end: number, terminated: boolean) => Verdict;

export class SseSplitter {
  private tail: Buffer = EMPTY;
  private lineHasContent = false;
  private previousWasCr = false;
  /** An event went by with the verdict `last`: nothing more reaches the client. */
  private stopped = false;
  private insideEvent = false;

  constructor(
    private readonly onEvent: EventHandler,
    private readonly rewrites: boolean,
  ) {}

  /** The stream ended inside an event (no blank line after it), and the client got that event's bytes. */
  get endedInsideEvent(): boolean {
    return this.insideEvent;
  }

  /** Returns the bytes the client should get instead of `chunk`, or null to pass `chunk` unchanged. */
  push(chunk: Buffer, endOfStream: boolean): Buffer | null {
    if (this.stopped) return EMPTY;
    const heldBefore = this.tail.length;
    const buf = heldBefore === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const kept: Buffer[] | null = this.rewrites ? [] : null;
    let changed = false;
    let eventStart = 0;
    const length = buf.length;
    for (let i = heldBefore; i < length; ) {
      // Up to the next line break in a tight loop: its bytes are a line's content.
      const from = i;
      let b = 0;
      while (i < length && (b = buf[i]!) !== LF && b !== CR) i++;
      if (i > from) {
        this.lineHasContent = true;
        this.previousWasCr = false;
      }
      if (i === length) break;
      i++;
      if (b === LF && this.previousWasCr) {
        // The LF of a CRLF: the CR already ended the line.
        this.previousWasCr = false;
        continue;
      }
      this.previousWasCr = b === CR;
      if (this.lineHasContent) {
        this.lineHasContent = false;
        continue;
      }
      // A blank line: the event ends here.
      const end = i;
      const verdict = this.onEvent(buf, eventStart, end, true);
      if (verdict === 'last') return this.stop(buf, kept, heldBefore, eventStart, end);
      if (kept !== null) changed = keep(kept, buf, eventStart, end, verdict) || changed;
      eventStart = end;
    }
    if (endOfStream && eventStart < buf.length) {
      // A final event without its blank line: still read it, and pass its bytes through.
      const verdict = this.onEvent(buf, eventStart, buf.length, false);
      this.insideEvent = verdict !== 'drop' || kept === null;
      if (verdict === 'last') return this.stop(buf, kept, heldBefore, eventStart, buf.length);
      if (kept !== null) changed = keep(kept, buf, eventStart, buf.length, verdict) || changed;
      eventStart = buf.length;
    }
    // Copy the unfinished tail: `chunk` belongs to a gRPC message we should not keep alive.
    this.tail = eventStart < buf.length ? Buffer.from(buf.subarray(eventStart)) : EMPTY;
    if (kept === null || (!changed && heldBefore === 0 && this.tail.length === 0)) return null;
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }

  /** The client gets what was kept of this chunk up to `end`, and nothing after. */
  private stop(buf: Buffer, kept: Buffer[] | null, heldBefore: number, eventStart: number, end: number): Buffer {
    this.stopped = true;
    this.tail = EMPTY;
    // Without rewriting, the held bytes of this event already went to the client with earlier chunks.
    if (kept === null) return buf.subarray(heldBefore, end);
    kept.push(buf.subarray(eventStart, end));
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }
}

/** Adds what the client gets of the event `buf[start, end)` to `kept`; true when that is not all of it. */
function keep(kept: Buffer[], buf: Buffer, start: number, end: number, verdict: Exclude<Verdict, 'last'>): boolean {
  if (verdict === 'keep') {
    kept.push(buf.subarray(start, end));
    return false;
  }
  if (verdict !== 'drop') kept.push(buf.subarray(start, verdict[0]), buf.subarray(verdict[1], end));
  return true;
}

/**
 * The joined `data:` field values of one event (per the SSE spec: one optional space after the
 * colon, several lines joined with LF), or null when the event has no data field.
 */
export function eventData(bytes: Buffer, start: number, end: number): string | null {
  let data: string | null = null;
  let lineStart = start;
  while (lineStart < end) {
    let lineEnd = lineStart;
    while (lineEnd < end && bytes[lineEnd] !== LF && bytes[lineEnd] !== CR) lineEnd++;
    if (lineEnd - lineStart >= 5 && bytes.toString('latin1', lineStart, lineStart + 5) === 'data:') {
      const valueStart = bytes[lineStart + 5] === 0x20 ? lineStart + 6 : lineStart + 5;
      const value = bytes.toString('utf8', valueStart, lineEnd);
      data = data === null ? value : `${data}\n${value}`;
    }
    lineStart = lineEnd + 1;
    if (bytes[lineEnd] === CR && bytes[lineStart] === LF) lineStart++;
  }
  return data;
}

/** The event's data parsed: undefined when it has none (a comment, an event without data), null when it is not a JSON object. */
export function eventObject(bytes: Buffer, start: number, end: number): Record<string, unknown> | null | undefined {
  const data = eventData(bytes, start, end);
  if (data === null || data.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

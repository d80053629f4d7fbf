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
/** Entries of the removed-ranges list kept between chunks (a chunk usually holds one event). */
const MAX_KEPT_RANGES = 256;

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
  /**
   * The byte ranges of this chunk's events the client does not get, as `from, to` pairs in order:
   * reused from chunk to chunk, so a stream rewritten in every chunk (its `"usage": null` members
   * cut) costs one buffer per chunk, not a view per event kept.
   */
  private readonly removed: number[] = [];
  /** How many entries of `removed` this chunk wrote (its length only grows: no reallocation per chunk). */
  private removedCount = 0;

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
    this.removedCount = 0;
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
      if (verdict === 'last') return this.stop(buf, heldBefore, end);
      this.remove(eventStart, end, verdict);
      eventStart = end;
    }
    if (endOfStream && eventStart < buf.length) {
      // A final event without its blank line: still read it, and pass its bytes through.
      const verdict = this.onEvent(buf, eventStart, buf.length, false);
      this.insideEvent = verdict !== 'drop' || !this.rewrites;
      if (verdict === 'last') return this.stop(buf, heldBefore, buf.length);
      this.remove(eventStart, buf.length, verdict);
      eventStart = buf.length;
    }
    // Copy the unfinished tail: `chunk` belongs to a gRPC message we should not keep alive.
    this.tail = eventStart < buf.length ? Buffer.from(buf.subarray(eventStart)) : EMPTY;
    if (!this.rewrites || (this.removedCount === 0 && heldBefore === 0 && this.tail.length === 0)) return null;
    return this.kept(buf, eventStart);
  }

  /** Notes what of the event `[start, end)` the client does not get (only when rewriting). */
  private remove(start: number, end: number, verdict: Exclude<Verdict, 'last'>): void {
    if (!this.rewrites || verdict === 'keep') return;
    this.removed[this.removedCount++] = verdict === 'drop' ? start : verdict[0];
    this.removed[this.removedCount++] = verdict === 'drop' ? end : verdict[1];
  }

  /** `buf[0, end)` without the removed ranges: the buffer itself (a view) when nothing is removed. */
  private kept(buf: Buffer, end: number): Buffer {
    const removed = this.removed;
    const count = this.removedCount;
    if (count === 0) return end === buf.length ? buf : buf.subarray(0, end);
    let size = end;
    for (let r = 0; r < count; r += 2) size -= removed[r + 1]! - removed[r]!;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    let from = 0;
    for (let r = 0; r < count; r += 2) {
      at += buf.copy(out, at, from, removed[r]!);
      from = removed[r + 1]!;
    }
    buf.copy(out, at, from, end);
    // A chunk of thousands of events does not leave a list that long behind for the rest of the stream.
    if (removed.length > MAX_KEPT_RANGES) removed.length = 0;
    return out;
  }

  /** The client gets what was kept of this chunk up to `end`, and nothing after. */
  private stop(buf: Buffer, heldBefore: number, end: number): Buffer {
    this.stopped = true;
    this.tail = EMPTY;
    // Without rewriting, the held bytes of this event already went to the client with earlier chunks.
    return this.rewrites ? this.kept(buf, end) : buf.subarray(heldBefore, end);
  }
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

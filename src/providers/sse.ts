/**
 * Incremental Server-Sent Events splitter. Envoy hands us arbitrary byte slices: an event, a line
 * ending or a UTF-8 character may straddle two of them. The splitter works on bytes and only cuts at
 * blank lines (ASCII, never inside a multi-byte character), so each event is decoded whole.
 *
 * Optionally it drops events from what the client sees (`push` returns the replacement chunk). When
 * dropping is enabled an unfinished event at the end of a chunk is held back until it completes, so
 * an event can be removed even when it arrives split.
 */

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** Decides about one complete event: `bytes[start, end)` includes its terminating blank line. */
export type EventHandler = (bytes: Buffer, start: number, end: number) => 'keep' | 'drop';

export class SseSplitter {
  private tail: Buffer = EMPTY;
  private lineHasContent = false;
  private previousWasCr = false;

  constructor(
    private readonly onEvent: EventHandler,
    private readonly mayDrop: boolean,
  ) {}

  /** Returns the bytes the client should get instead of `chunk`, or null to pass `chunk` unchanged. */
  push(chunk: Buffer, endOfStream: boolean): Buffer | null {
    const heldBefore = this.tail.length;
    const buf = heldBefore === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const kept: Buffer[] | null = this.mayDrop ? [] : null;
    let dropped = false;
    let eventStart = 0;
    for (let i = heldBefore; i < buf.length; i++) {
      const b = buf[i];
      if (b === LF && this.previousWasCr) {
        // The LF of a CRLF: the CR already ended the line.
        this.previousWasCr = false;
        continue;
      }
      this.previousWasCr = b === CR;
      if (b !== LF && b !== CR) {
        this.lineHasContent = true;
        continue;
      }
      if (this.lineHasContent) {
        this.lineHasContent = false;
        continue;
      }
      // A blank line: the event ends here.
      const end = i + 1;
      const verdict = this.onEvent(buf, eventStart, end);
      if (kept !== null) {
        if (verdict === 'drop') dropped = true;
        else kept.push(buf.subarray(eventStart, end));
      }
      eventStart = end;
    }
    if (endOfStream && eventStart < buf.length) {
      // A final event without its blank line: still read it, and pass its bytes through.
      this.onEvent(buf, eventStart, buf.length);
      kept?.push(buf.subarray(eventStart));
      eventStart = buf.length;
    }
    // Copy the unfinished tail: `chunk` belongs to a gRPC message we should not keep alive.
    this.tail = eventStart < buf.length ? Buffer.from(buf.subarray(eventStart)) : EMPTY;
    if (kept === null || (!dropped && heldBefore === 0 && this.tail.length === 0)) return null;
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
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

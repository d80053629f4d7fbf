/**
 * Plays an SSE answer with the behaviour's faults, whatever the wire format: the time to the first
 * event, the gap between content chunks, a cut (reset or clean close), a stall, and a non-JSON event
 * slipped in. A format gives the frames; the faults land between content chunks, as when a provider dies.
 */
import type { ServerResponse } from 'node:http';
import type { Behaviour } from './behaviour.js';

/** SSE text, or a binary frame (Bedrock's eventstream messages). */
export type Frame = string | Buffer;

export interface StreamScript {
  /** Default `text/event-stream`. */
  readonly contentType?: string;
  /** Frames before the first content chunk (OpenAI's role delta; Anthropic's message_start, …). */
  readonly head: readonly Frame[];
  /** The frame carrying content chunk `i`. */
  chunk(i: number): Frame;
  /** Frames after the last content chunk: the finish, the usage. */
  readonly tail: readonly Frame[];
  /** The closing frame (`data: [DONE]`, `message_stop`, Bedrock's metadata). */
  readonly end: Frame;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

const MALFORMED = 'data: <html><body>502 Bad Gateway</body></html>\n\n';

/** Streams `script` to `res`; `onTail` runs once the tail (with its usage) was written. */
export async function playStream(res: ServerResponse, b: Behaviour, script: StreamScript, onTail: () => void): Promise<void> {
  // In the same write as the frame after it, so both reach the router in one chunk: the client must get neither that frame nor the rest.
  const malformedAfter = (chunks: number, next: Frame): Frame => {
    if (b.malformed_after_chunks !== chunks) return next;
    return typeof next === 'string' ? MALFORMED + next : Buffer.concat([Buffer.from(MALFORMED), next]);
  };
  // Resolves once the bytes reached the socket, so a cut happens after the client got them.
  let flushed: Promise<void> = Promise.resolve();
  const send = (data: Frame): void => {
    flushed = new Promise((resolve) => res.write(data, () => resolve()));
  };
  await sleep(b.ttft_ms);
  for (const frame of script.head) send(frame);
  for (let i = 0; i < b.chunks; i++) {
    if (i > 0) await sleep(b.chunk_interval_ms);
    if (b.cut_after_chunks !== undefined && i >= b.cut_after_chunks) {
      await flushed;
      if (b.cut_mode === 'close') res.end();
      else res.socket?.resetAndDestroy();
      return;
    }
    if (b.stall_after_chunks !== undefined && i >= b.stall_after_chunks) return; // leave it open, silent
    if (res.destroyed) return;
    send(malformedAfter(i, script.chunk(i)));
  }
  for (const frame of script.tail) send(frame);
  onTail();
  res.end(malformedAfter(b.chunks, script.end));
}

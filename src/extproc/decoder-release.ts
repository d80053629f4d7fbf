/**
 * grpc-js's message decoder keeps the network chunks of the last message it read until the next
 * message starts. On an ext_proc stream the next message after the request body is the response's
 * first chunk, so every open request kept its whole request body (up to the body limit) for the
 * model's time to first token, and a JSON answer's for as long as the upstream took: 1,000 open
 * streams of 100 KB prompts held 100 MB (bench/results/memory, docs/decisions.md).
 *
 * When a write ends between two messages, those references are dead: the next message's first byte
 * replaces them before anything reads them. They are dropped there, once for every decoder of the
 * process (grpc-js has no option for it; its decoder is patched like the stream reset limit in
 * server.ts, and a grpc-js whose decoder looks different is left alone with a warning).
 */
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';
import type { Logger } from 'pino';

/** The decoder's fields read here, as grpc-js 1.14 names them. */
interface DecoderState {
  readState: number;
  readCompressFlag: Buffer;
  readPartialMessage: Buffer[];
}

/** grpc-js's `ReadState.NO_DATA`: between two messages. */
const NO_DATA = 0;
const NO_FLAG = Buffer.alloc(1);
const RELEASES = Symbol('llm-router: releases read messages');

function looksAsExpected(decoder: unknown): decoder is DecoderState {
  const d = decoder as Partial<DecoderState>;
  return d.readState === NO_DATA && Array.isArray(d.readPartialMessage) && Buffer.isBuffer(d.readCompressFlag);
}

export function releaseReadMessages(log: Logger): void {
  const proto = StreamDecoder.prototype as unknown as { write(data: Buffer): Buffer[]; [RELEASES]?: true };
  if (proto[RELEASES]) return;
  if (typeof proto.write !== 'function' || !looksAsExpected(new StreamDecoder(-1))) {
    log.warn('grpc-js internals changed: each open stream keeps its last message received until the next one');
    return;
  }
  const write = proto.write;
  proto.write = function (this: DecoderState, data: Buffer): Buffer[] {
    const messages = write.call(this, data);
    if (this.readState === NO_DATA) {
      if (this.readPartialMessage.length > 0) this.readPartialMessage = [];
      // A one-byte view of the chunk the message started in, which it keeps whole.
      this.readCompressFlag = NO_FLAG;
    }
    return messages;
  };
  proto[RELEASES] = true;
}

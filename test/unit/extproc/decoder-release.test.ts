/**
 * grpc-js's message decoder, as the router runs it (extproc/decoder-release.ts): it decodes every
 * split of a message sequence as before, and once a write ends between messages it holds none of
 * the bytes it was given, so an open stream does not keep its request body. Seeded property tests.
 */
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { releaseReadMessages } from '../../../src/extproc/decoder-release.js';

const SEED = 1011;

releaseReadMessages(pino({ level: 'silent' }));

/** A gRPC frame: not compressed, the length, the message. */
function frame(message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed) into chunks of their own memory, as sockets deliver them. */
function chunks(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    if (to > from) out.push(Buffer.from(bytes.subarray(from, to)));
    from = to;
  }
  return out;
}

/** What the decoder still references of `given`: the buffers whose memory it holds. */
function held(decoder: StreamDecoder, given: readonly Buffer[]): Buffer[] {
  const state = decoder as unknown as { readPartialMessage: Buffer[]; readCompressFlag: Buffer };
  const refs = [...state.readPartialMessage, state.readCompressFlag];
  return given.filter((chunk) => refs.some((r) => r.buffer === chunk.buffer));
}

const messages = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 });
const cuts = fc.array(fc.nat(), { maxLength: 12 });

describe('the gRPC message decoder', () => {
  it('decodes any split of a message sequence into the same messages', () => {
    fc.assert(
      fc.property(messages, cuts, (ms, cs) => {
        const framed = ms.map(frame);
        const decoder = new StreamDecoder(-1);
        const decoded = chunks(Buffer.concat(framed), cs).flatMap((c) => decoder.write(c));
        expect(decoded).toEqual(framed);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('holds none of the bytes it was given once a write ends between messages', () => {
    fc.assert(
      fc.property(messages, cuts, (ms, cs) => {
        const decoder = new StreamDecoder(-1);
        const given = chunks(Buffer.concat(ms.map(frame)), cs);
        for (const c of given) decoder.write(c);
        expect(held(decoder, given)).toEqual([]);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('keeps the part of a message it has not finished', () => {
    const decoder = new StreamDecoder(-1);
    const whole = frame(Buffer.alloc(100, 7));
    const first = Buffer.from(whole.subarray(0, 60));
    expect(decoder.write(first)).toEqual([]);
    expect(held(decoder, [first])).toEqual([first]);
    expect(decoder.write(Buffer.from(whole.subarray(60)))).toEqual([whole]);
    expect(held(decoder, [first])).toEqual([]);
  });
});

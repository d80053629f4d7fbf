/**
 * The eventstream framing against AWS's own codec vectors (aws/aws-sdk-js-v3,
 * packages/eventstream-marshaller/src/TestVectors.fixture.ts), then split at every byte.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeMessage, EventStreamDecoder, EventStreamError, type EventMessage } from '../../../../src/providers/bedrock/eventstream.js';

const BODY = Buffer.from("{'foo':'bar'}");
const VECTORS = {
  empty_message: [0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 125, 152, 200, 255],
  int32_header: [0, 0, 0, 43, 0, 0, 0, 14, 52, 139, 236, 123, 8, 101, 118, 101, 110, 116, 45, 105, 100, 4, 0, 0, 160, 12, 123, 39, 102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 211, 137, 2, 133],
  payload_no_headers: [0, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 195, 101, 57, 54],
  payload_one_str_header: [
    0, 0, 0, 61, 0, 0, 0, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101, 110, 116, 45, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99, 97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39,
    102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177,
  ],
};
const CORRUPTED = {
  corrupted_headers: [
    0, 0, 0, 61, 0, 0, 0, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101, 110, 116, 43, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99, 97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39,
    102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177,
  ],
  corrupted_header_len: [
    0, 0, 0, 61, 0, 0, 1, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101, 110, 116, 45, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99, 97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39,
    102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177,
  ],
  corrupted_length: [1, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 125, 195, 101, 57, 54],
  corrupted_payload: [0, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39, 58, 39, 98, 97, 114, 39, 141, 195, 101, 57, 54],
};

const bytes = (list: number[]) => Buffer.from(list);
const plain = (m: EventMessage) => ({ headers: m.headers, payload: Buffer.from(m.payload).toString('latin1') });

describe('eventstream: AWS codec vectors', () => {
  it('decodes each valid vector', () => {
    const decode = (list: number[]) => new EventStreamDecoder().push(bytes(list)).map(plain);
    expect(decode(VECTORS.empty_message)).toEqual([{ headers: {}, payload: '' }]);
    expect(decode(VECTORS.int32_header)).toEqual([{ headers: { 'event-id': 0xa00c }, payload: BODY.toString() }]);
    expect(decode(VECTORS.payload_no_headers)).toEqual([{ headers: {}, payload: BODY.toString() }]);
    expect(decode(VECTORS.payload_one_str_header)).toEqual([{ headers: { 'content-type': 'application/json' }, payload: BODY.toString() }]);
  });

  it('encodes them byte for byte', () => {
    expect(encodeMessage([], Buffer.alloc(0))).toEqual(bytes(VECTORS.empty_message));
    expect(encodeMessage([['event-id', 0xa00c]], BODY)).toEqual(bytes(VECTORS.int32_header));
    expect(encodeMessage([], BODY)).toEqual(bytes(VECTORS.payload_no_headers));
    expect(encodeMessage([['content-type', 'application/json']], BODY)).toEqual(bytes(VECTORS.payload_one_str_header));
  });

  it.each(Object.entries(CORRUPTED))('refuses %s', (_, list) => {
    expect(() => new EventStreamDecoder().push(bytes(list))).toThrow(EventStreamError);
  });
});

describe('eventstream: incremental decoding', () => {
  const stream = Buffer.concat([
    encodeMessage([[':message-type', 'event'], [':event-type', 'messageStart'], [':content-type', 'application/json']], Buffer.from('{"role":"assistant"}')),
    encodeMessage([[':event-type', 'contentBlockDelta']], Buffer.from('{"delta":{"text":"Grüße, 日本語 ✓"}}')),
    bytes(VECTORS.empty_message),
    encodeMessage([[':event-type', 'metadata']], Buffer.from('{"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5}}')),
  ]);
  const whole = new EventStreamDecoder().push(stream).map(plain);

  it('gives the same messages split at every byte, holding at most one unfinished message', () => {
    expect(whole).toHaveLength(4);
    const longest = Math.max(...whole.map((m) => m.payload.length)) + 100;
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new EventStreamDecoder();
      const first = decoder.push(stream.subarray(0, cut)).map(plain);
      expect(decoder.pending).toBeLessThan(longest);
      const second = decoder.push(stream.subarray(cut)).map(plain);
      expect([...first, ...second]).toEqual(whole);
      expect(decoder.pending).toBe(0);
    }
  });

  it('gives the same messages fed one byte at a time', () => {
    const decoder = new EventStreamDecoder();
    const out: ReturnType<typeof plain>[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)).map(plain));
    expect(out).toEqual(whole);
  });

  it('refuses a message over its bound from the prelude alone, before buffering it', () => {
    const big = encodeMessage([], Buffer.alloc(2000));
    const decoder = new EventStreamDecoder(1024);
    expect(() => decoder.push(big.subarray(0, 12))).toThrow(/outside 16 to 1024/);
  });

  it('decodes every header value type', () => {
    const message = encodeMessage(
      [
        ['t', true],
        ['f', false],
        ['i', -5],
        ['l', -(2n ** 40n)],
        ['b', Buffer.from([1, 2, 3])],
        ['s', 'ü'],
        ['ts', new Date(1_700_000_000_123)],
      ],
      Buffer.alloc(0),
    );
    expect(new EventStreamDecoder().push(message)[0]!.headers).toEqual({
      t: true,
      f: false,
      i: -5,
      l: -(2n ** 40n),
      b: Buffer.from([1, 2, 3]),
      s: 'ü',
      ts: new Date(1_700_000_000_123),
    });
    // byte (2), short (3) and uuid (9), which AWS sends but the encoder has no use for.
    const headers = Buffer.concat([
      Buffer.from([1, 0x79, 2, 0xfe]),
      Buffer.from([1, 0x68, 3, 0x80, 0x00]),
      Buffer.from([1, 0x75, 9]),
      Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    ]);
    const raw = Buffer.alloc(16 + headers.length);
    raw.writeUInt32BE(raw.length, 0);
    raw.writeUInt32BE(headers.length, 4);
    raw.writeUInt32BE(crc32(raw.subarray(0, 8)), 8);
    headers.copy(raw, 12);
    raw.writeUInt32BE(crc32(raw.subarray(0, raw.length - 4)), raw.length - 4);
    expect(new EventStreamDecoder().push(raw)[0]!.headers).toEqual({ y: -2, h: -32768, u: '00112233-4455-6677-8899-aabbccddeeff' });
  });

  it('refuses a header that runs past its section, and an unknown value type', () => {
    const message = encodeMessage([['s', 'abc']], Buffer.alloc(0));
    const cut = Buffer.from(message);
    cut.writeUInt16BE(200, 12 + 3);
    cut.writeUInt32BE(crc32(cut.subarray(0, cut.length - 4)), cut.length - 4);
    expect(() => new EventStreamDecoder().push(cut)).toThrow(/runs past/);
    const unknown = Buffer.from(message);
    unknown[12 + 2] = 42;
    unknown.writeUInt32BE(crc32(unknown.subarray(0, unknown.length - 4)), unknown.length - 4);
    expect(() => new EventStreamDecoder().push(unknown)).toThrow(/unknown value type 42/);
  });
});

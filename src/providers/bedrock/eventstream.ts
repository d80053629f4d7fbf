/**
 * AWS's `application/vnd.amazon.eventstream` binary framing, which ConverseStream answers in:
 *
 *   total length u32 | headers length u32 | prelude CRC32 u32 | headers | payload | message CRC32 u32
 *
 * (big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything before it). A
 * header is name length u8, name, value type u8, value: 0 true, 1 false, 2 i8, 3 i16, 4 i32, 5 i64,
 * 6 bytes (u16 length), 7 string (u16 length), 8 timestamp (i64 ms), 9 uuid (16 bytes).
 *
 * The decoder is incremental: Envoy hands over arbitrary slices, so a message may arrive in any
 * number of pieces. It holds at most one unfinished message, and refuses one longer than its bound
 * before reading it (the prelude says how long it is), so a hostile or broken upstream cannot make
 * it buffer without limit. Both CRCs are checked; a bad one ends the stream.
 */
import { crc32 } from 'node:zlib';

export type HeaderValue = boolean | number | bigint | string | Buffer | Date;

export interface EventMessage {
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** A view of the pushed bytes when the message came whole in one chunk: read it before the next push. */
  readonly payload: Buffer;
}

export class EventStreamError extends Error {
  override readonly name = 'EventStreamError';
}

const PRELUDE = 12;
/** Prelude and message CRC. */
const OVERHEAD = 16;
/** AWS's own limits: 16 MiB per message, 128 KiB of headers. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_HEADERS_BYTES = 128 * 1024;

export class EventStreamDecoder {
  /** The prelude of the message being read, while fewer than 12 bytes of it came. */
  private readonly prelude = Buffer.alloc(PRELUDE);
  private preludeBytes = 0;
  /** The message being read once its prelude came, and how much of it. */
  private message: Buffer | null = null;
  private messageBytes = 0;

  /** `maxMessageBytes`: the longest message accepted (a longer one is an error, never buffered). */
  constructor(private readonly maxMessageBytes = MAX_MESSAGE_BYTES) {}

  /** Bytes held of an unfinished message. */
  get pending(): number {
    return this.message === null ? this.preludeBytes : this.messageBytes;
  }

  /** The messages `chunk` completes, in order; throws EventStreamError on broken framing. */
  push(chunk: Buffer): EventMessage[] {
    const out: EventMessage[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.message === null && this.preludeBytes === 0 && chunk.length - at >= PRELUDE) {
        // The common case: a whole message in the chunk is read where it lies, without a copy.
        const total = this.checkPrelude(chunk, at);
        if (chunk.length - at >= total) {
          out.push(decodeMessage(chunk.subarray(at, at + total)));
          at += total;
          continue;
        }
        this.message = Buffer.allocUnsafe(total);
        this.messageBytes = 0;
      }
      if (this.message === null) {
        const n = Math.min(PRELUDE - this.preludeBytes, chunk.length - at);
        chunk.copy(this.prelude, this.preludeBytes, at, at + n);
        this.preludeBytes += n;
        at += n;
        if (this.preludeBytes < PRELUDE) break;
        this.message = Buffer.allocUnsafe(this.checkPrelude(this.prelude, 0));
        this.prelude.copy(this.message, 0);
        this.messageBytes = PRELUDE;
        this.preludeBytes = 0;
        continue;
      }
      const n = Math.min(this.message.length - this.messageBytes, chunk.length - at);
      chunk.copy(this.message, this.messageBytes, at, at + n);
      this.messageBytes += n;
      at += n;
      if (this.messageBytes === this.message.length) {
        out.push(decodeMessage(this.message));
        this.message = null;
        this.messageBytes = 0;
      }
    }
    return out;
  }

  /** The message's total length, once its prelude is known to be sound. */
  private checkPrelude(bytes: Buffer, at: number): number {
    const total = bytes.readUInt32BE(at);
    const headers = bytes.readUInt32BE(at + 4);
    if (crc32(bytes.subarray(at, at + 8)) !== bytes.readUInt32BE(at + 8)) throw new EventStreamError('Event stream prelude checksum mismatch.');
    if (total < OVERHEAD || total > this.maxMessageBytes) throw new EventStreamError(`Event stream message of ${total} bytes is outside 16 to ${this.maxMessageBytes}.`);
    if (headers > MAX_HEADERS_BYTES || headers > total - OVERHEAD) throw new EventStreamError(`Event stream headers of ${headers} bytes do not fit the message.`);
    return total;
  }
}

/** One whole message (`message.length` is its total length). */
function decodeMessage(message: Buffer): EventMessage {
  const end = message.length - 4;
  if (crc32(message.subarray(0, end)) !== message.readUInt32BE(end)) throw new EventStreamError('Event stream message checksum mismatch.');
  const headersEnd = PRELUDE + message.readUInt32BE(4);
  return { headers: decodeHeaders(message, PRELUDE, headersEnd), payload: message.subarray(headersEnd, end) };
}

function decodeHeaders(bytes: Buffer, start: number, end: number): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  let at = start;
  const need = (n: number): void => {
    if (at + n > end) throw new EventStreamError('Event stream header runs past the headers section.');
  };
  while (at < end) {
    need(1);
    const nameLength = bytes[at]!;
    need(1 + nameLength + 1);
    const name = bytes.toString('utf8', at + 1, at + 1 + nameLength);
    const type = bytes[at + 1 + nameLength]!;
    at += 2 + nameLength;
    let value: HeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = type === 0;
        break;
      case 2:
        need(1);
        value = bytes.readInt8(at);
        at += 1;
        break;
      case 3:
        need(2);
        value = bytes.readInt16BE(at);
        at += 2;
        break;
      case 4:
        need(4);
        value = bytes.readInt32BE(at);
        at += 4;
        break;
      case 5:
      case 8: {
        need(8);
        const n = bytes.readBigInt64BE(at);
        value = type === 5 ? n : new Date(Number(n));
        at += 8;
        break;
      }
      case 6:
      case 7: {
        need(2);
        const length = bytes.readUInt16BE(at);
        need(2 + length);
        value = type === 7 ? bytes.toString('utf8', at + 2, at + 2 + length) : Buffer.from(bytes.subarray(at + 2, at + 2 + length));
        at += 2 + length;
        break;
      }
      case 9: {
        need(16);
        const hex = bytes.toString('hex', at, at + 16);
        value = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        at += 16;
        break;
      }
      default:
        throw new EventStreamError(`Event stream header '${name}' has unknown value type ${type}.`);
    }
    headers[name] = value;
  }
  return headers;
}

/** Header values the encoder writes: string (7), boolean (0/1), 32-bit integer (4), bigint (5), bytes (6), timestamp (8). */
export type EncodableValue = string | boolean | number | bigint | Buffer | Date;

function encodeHeader(name: string, value: EncodableValue): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const head = Buffer.concat([Buffer.from([nameBytes.length]), nameBytes]);
  if (typeof value === 'boolean') return Buffer.concat([head, Buffer.from([value ? 0 : 1])]);
  if (typeof value === 'number') {
    const v = Buffer.alloc(5);
    v[0] = 4;
    v.writeInt32BE(value, 1);
    return Buffer.concat([head, v]);
  }
  if (typeof value === 'bigint' || value instanceof Date) {
    const v = Buffer.alloc(9);
    v[0] = typeof value === 'bigint' ? 5 : 8;
    v.writeBigInt64BE(typeof value === 'bigint' ? value : BigInt(value.getTime()), 1);
    return Buffer.concat([head, v]);
  }
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const prefix = Buffer.alloc(3);
  prefix[0] = typeof value === 'string' ? 7 : 6;
  prefix.writeUInt16BE(data.length, 1);
  return Buffer.concat([head, prefix, data]);
}

/** One framed message: its headers in the order given, its payload, both CRCs. */
export function encodeMessage(headers: ReadonlyArray<readonly [string, EncodableValue]>, payload: Buffer): Buffer {
  const headerBytes = Buffer.concat(headers.map(([name, value]) => encodeHeader(name, value)));
  const total = OVERHEAD + headerBytes.length + payload.length;
  const message = Buffer.alloc(total);
  message.writeUInt32BE(total, 0);
  message.writeUInt32BE(headerBytes.length, 4);
  message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
  headerBytes.copy(message, PRELUDE);
  payload.copy(message, PRELUDE + headerBytes.length);
  message.writeUInt32BE(crc32(message.subarray(0, total - 4)), total - 4);
  return message;
}

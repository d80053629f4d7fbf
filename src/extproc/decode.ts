/**
 * Envoy's ProcessingRequest read straight from its protobuf bytes into the pipeline's plain values:
 * the headers as one object, a body as a view of the received bytes, the few attributes the router
 * asks for. A generic decoder builds a message object for every header and every attribute value
 * only for them to be copied once more (the per-message cost the benchmark counts); this reads each
 * field once and skips what the router never reads (metadata context, observability mode,
 * protocol config, fields a newer Envoy adds).
 *
 * Field numbers are those of envoy/service/ext_proc/v3/external_processor.proto,
 * envoy/config/core/v3/base.proto (HeaderMap, HeaderValue) and google/protobuf/struct.proto;
 * test/unit/extproc/decode.test.ts holds this decoder to the generated one on every case.
 */
import { NO_ATTRIBUTES, type Attributes, type Headers } from '../pipeline/types.js';

export type EnvoyMessage =
  | { readonly phase: 'requestHeaders' | 'responseHeaders'; readonly headers: Headers; readonly endOfStream: boolean; readonly attributes: Attributes }
  | { readonly phase: 'requestBody' | 'responseBody'; readonly body: Buffer; readonly endOfStream: boolean; readonly attributes: Attributes }
  | { readonly phase: 'requestTrailers' | 'responseTrailers'; readonly attributes: Attributes }
  /** A message without a request case (a newer Envoy's, or a malformed one): answered with nothing. */
  | { readonly phase: null; readonly attributes: Attributes };

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** ProcessingRequest's `request` oneof, by field number. */
const PHASE_BY_FIELD = [null, null, 'requestHeaders', 'responseHeaders', 'requestBody', 'responseBody', 'requestTrailers', 'responseTrailers'] as const;
const ATTRIBUTES_FIELD = 9;
/** The key Envoy files the filter's attributes under. */
const EXT_PROC_ATTRIBUTES = 'envoy.filters.http.ext_proc';

class MalformedMessage extends Error {}

/** A cursor over one message's bytes. */
class Reader {
  at: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }

  get more(): boolean {
    return this.at < this.end;
  }

  varint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (this.at >= this.end) throw new MalformedMessage('truncated varint');
      const b = this.buf[this.at++]!;
      // Past 2^53 precision is lost; the router reads no such value (lengths, booleans, tags).
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
      if (shift > 63) throw new MalformedMessage('varint too long');
    }
  }

  /** The end of a length-delimited field whose length is next. */
  span(): number {
    const length = this.varint();
    const end = this.at + length;
    if (end > this.end) throw new MalformedMessage('field past the end of its message');
    return end;
  }

  string(): string {
    const end = this.span();
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end;
    return s;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === FIXED64) this.at += 8;
    else if (wireType === LENGTH_DELIMITED) this.at = this.span();
    else if (wireType === FIXED32) this.at += 4;
    else throw new MalformedMessage(`wire type ${wireType}`);
    if (this.at > this.end) throw new MalformedMessage('field past the end of its message');
  }
}

/** HttpHeaders: `headers` (HeaderMap) = 1, `end_of_stream` = 3. */
function readHttpHeaders(r: Reader, end: number, phase: 'requestHeaders' | 'responseHeaders', attributes: Attributes): EnvoyMessage {
  // No prototype: a header named `constructor` or `__proto__` is a header like any other.
  const headers = Object.create(null) as Record<string, string>;
  let endOfStream = false;
  while (r.at < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) {
      const mapEnd = r.span();
      while (r.at < mapEnd) {
        const mapTag = r.varint();
        if (mapTag === ((1 << 3) | LENGTH_DELIMITED)) readHeaderValue(r, r.span(), headers);
        else r.skip(mapTag & 7);
      }
    } else if (tag === ((3 << 3) | VARINT)) endOfStream = r.varint() !== 0;
    else r.skip(tag & 7);
  }
  return { phase, headers, endOfStream, attributes };
}

/**
 * HeaderValue: `key` = 1, `value` = 2, `raw_value` = 3. Envoy sends values in `raw_value` (runtime
 * guard send_header_raw_value); `value` is the fallback. The first of repeated names wins.
 */
function readHeaderValue(r: Reader, end: number, into: Record<string, string>): void {
  let key = '';
  let value = '';
  let rawStart = 0;
  let rawEnd = 0;
  while (r.at < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) key = r.string();
    else if (tag === ((2 << 3) | LENGTH_DELIMITED)) value = r.string();
    else if (tag === ((3 << 3) | LENGTH_DELIMITED)) {
      rawEnd = r.span();
      rawStart = r.at;
      r.at = rawEnd;
    } else r.skip(tag & 7);
  }
  if (into[key] !== undefined) return;
  into[key] = rawEnd > rawStart ? r.buf.toString('utf8', rawStart, rawEnd) : value;
}

/** HttpBody: `body` = 1 (a view of the received bytes, not a copy), `end_of_stream` = 2. */
function readHttpBody(r: Reader, end: number, phase: 'requestBody' | 'responseBody', attributes: Attributes): EnvoyMessage {
  let body = EMPTY;
  let endOfStream = false;
  while (r.at < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) {
      const bodyEnd = r.span();
      body = r.buf.subarray(r.at, bodyEnd);
      r.at = bodyEnd;
    } else if (tag === ((2 << 3) | VARINT)) endOfStream = r.varint() !== 0;
    else r.skip(tag & 7);
  }
  return { phase, body, endOfStream, attributes };
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Values of the attributes the router reads; others are skipped. */
interface AttributeValues {
  status: number | null;
  cluster: string | null;
  attempt: number | null;
  requestId: string | null;
  plan: string | null;
  nextCluster: string | null;
}

/** Attribute names as Envoy keys them (envoy.yaml `request_attributes` / `response_attributes`). */
const ATTRIBUTE_FIELDS: Readonly<Record<string, keyof AttributeValues>> = {
  'response.code': 'status',
  'xds.cluster_name': 'cluster',
  'upstream.request_attempt_count': 'attempt',
  "request.headers['x-request-id']": 'requestId',
  "request.headers['x-llm-plan']": 'plan',
  "request.headers['x-llm-cluster']": 'nextCluster',
};
const NUMERIC: ReadonlySet<keyof AttributeValues> = new Set(['status', 'attempt']);

/** One `map<string, Struct> attributes` entry: key = 1, value = 2; only the ext_proc filter's is read. */
function readAttributesEntry(r: Reader, end: number, into: AttributeValues): void {
  let key: string | null = null;
  while (r.at < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) key = r.string();
    else if (tag === ((2 << 3) | LENGTH_DELIMITED) && key === EXT_PROC_ATTRIBUTES) {
      // Struct: `fields` (map<string, Value>) = 1.
      const structEnd = r.span();
      while (r.at < structEnd) {
        const fieldTag = r.varint();
        if (fieldTag === ((1 << 3) | LENGTH_DELIMITED)) readStructField(r, r.span(), into);
        else r.skip(fieldTag & 7);
      }
    } else r.skip(tag & 7);
  }
}

/** A Struct field: name = 1, Value = 2 (number_value = 2 as a double, string_value = 3). */
function readStructField(r: Reader, end: number, into: AttributeValues): void {
  let name: keyof AttributeValues | undefined;
  let number: number | null = null;
  let text: string | null = null;
  while (r.at < end) {
    const tag = r.varint();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) name = ATTRIBUTE_FIELDS[r.string()];
    else if (tag === ((2 << 3) | LENGTH_DELIMITED) && name !== undefined) {
      const valueEnd = r.span();
      while (r.at < valueEnd) {
        const valueTag = r.varint();
        if (valueTag === ((2 << 3) | FIXED64)) {
          if (r.at + 8 > valueEnd) throw new MalformedMessage('truncated double');
          number = r.buf.readDoubleLE(r.at);
          text = null;
          r.at += 8;
        } else if (valueTag === ((3 << 3) | LENGTH_DELIMITED)) {
          text = r.string();
          number = null;
        } else {
          // Another kind of value (null, bool, struct, list): the last kind in a Value wins.
          r.skip(valueTag & 7);
          number = null;
          text = null;
        }
      }
    } else r.skip(tag & 7);
  }
  if (name === undefined) return;
  if (NUMERIC.has(name)) (into[name] as number | null) = number;
  else (into[name] as string | null) = text === '' ? null : text;
}

/** Decodes one ProcessingRequest; throws on bytes that are not one (the stream then fails). */
export function decodeProcessingRequest(buf: Buffer): EnvoyMessage {
  const r = new Reader(buf, 0, buf.length);
  let phase: (typeof PHASE_BY_FIELD)[number] = null;
  let start = 0;
  let end = 0;
  let attributes: AttributeValues | null = null;
  while (r.more) {
    const tag = r.varint();
    const field = tag >>> 3;
    if (field >= 2 && field <= 7 && (tag & 7) === LENGTH_DELIMITED) {
      // A oneof: the last case on the wire wins.
      end = r.span();
      start = r.at;
      phase = PHASE_BY_FIELD[field]!;
      r.at = end;
    } else if (field === ATTRIBUTES_FIELD && (tag & 7) === LENGTH_DELIMITED) {
      attributes ??= { status: null, cluster: null, attempt: null, requestId: null, plan: null, nextCluster: null };
      readAttributesEntry(r, r.span(), attributes);
    } else r.skip(tag & 7);
  }
  const read: Attributes = attributes ?? NO_ATTRIBUTES;
  if (phase === null) return { phase, attributes: read };
  r.at = start;
  switch (phase) {
    case 'requestHeaders':
    case 'responseHeaders':
      return readHttpHeaders(r, end, phase, read);
    case 'requestBody':
    case 'responseBody':
      return readHttpBody(r, end, phase, read);
    default:
      return { phase, attributes: read };
  }
}

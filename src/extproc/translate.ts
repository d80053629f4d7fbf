/**
 * The pipeline's outcomes → Envoy ext_proc replies, written straight into protobuf bytes
 * (decode.ts reads Envoy's messages). Nothing outside extproc/ sees an Envoy type.
 *
 * A generic encoder builds a message object tree per reply and walks it by reflection; a reply is
 * at most a CommonResponse with headers and a body, or an immediate response (either with dynamic
 * metadata), so it is written
 * here in two passes — sizes, then bytes into one buffer. Field numbers are those of
 * envoy/service/ext_proc/v3/external_processor.proto and
 * envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto; test/unit/extproc/translate.test.ts
 * decodes every kind of reply with the generated codecs.
 */
import { PASS, type HeaderPair, type Outcome, type RequestMetadata } from '../pipeline/types.js';

/** The phases Envoy can send; the names are the `ProcessingResponse.response` oneof cases. */
export type Phase = 'requestHeaders' | 'requestBody' | 'requestTrailers' | 'responseHeaders' | 'responseBody' | 'responseTrailers';

/** ProcessingResponse fields. */
const PHASE_FIELD: Readonly<Record<Phase, number>> = { requestHeaders: 1, responseHeaders: 2, requestBody: 3, responseBody: 4, requestTrailers: 5, responseTrailers: 6 };
const IMMEDIATE_RESPONSE = 7;
const DYNAMIC_METADATA = 8;
const MODE_OVERRIDE = 9;

/** The dynamic metadata namespace the router writes; envoy.yaml's ext_proc filter must list it in `metadata_options.receiving_namespaces.untyped`. */
export const METADATA_NAMESPACE = 'llm_router';

const LENGTH_DELIMITED = 2;
const VARINT = 0;
const FIXED64 = 1;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field of a payload of `size` bytes (every field number here is below 16: a one-byte tag). */
const fieldSize = (size: number): number => 1 + varintSize(size) + size;

/** Writes into a buffer sized beforehand. */
class Writer {
  at = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.at++] = n;
  }

  /** The tag and length of a length-delimited field, its payload to follow. */
  open(field: number, size: number): void {
    this.buf[this.at++] = tag(field, LENGTH_DELIMITED);
    this.varint(size);
  }

  string(field: number, value: string, byteLength: number): void {
    this.open(field, byteLength);
    this.at += this.buf.write(value, this.at, byteLength, 'utf8');
  }

  bytes(field: number, value: Buffer): void {
    this.open(field, value.length);
    this.at += value.copy(this.buf, this.at);
  }

  double(field: number, value: number): void {
    this.buf[this.at++] = tag(field, FIXED64);
    this.at = this.buf.writeDoubleLE(value, this.at);
  }
}

/**
 * ProcessingResponse.dynamic_metadata, a google.protobuf.Struct: { llm_router: { name: value, … } }.
 * Struct: fields = 1, a map entry (key = 1, value = 2) per name. Value: number_value = 2 (a double),
 * string_value = 3, struct_value = 5.
 */
interface MetadataSizes {
  readonly keys: readonly string[];
  /** Per entry: the key's bytes, the string value's bytes (-1: a number), the entry's size. */
  readonly entries: Int32Array;
  /** The inner Struct, its Value, and the namespace's map entry. */
  readonly inner: number;
  readonly value: number;
  readonly entry: number;
}

const NAMESPACE_BYTES = Buffer.byteLength(METADATA_NAMESPACE);

function metadataSizes(metadata: RequestMetadata): MetadataSizes {
  const keys = Object.keys(metadata);
  const entries = new Int32Array(keys.length * 3);
  let inner = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = metadata[keys[i]!]!;
    const k = Buffer.byteLength(keys[i]!);
    const s = typeof v === 'string' ? Buffer.byteLength(v) : -1;
    const valueSize = s === -1 ? 9 : fieldSize(s);
    const entry = fieldSize(k) + fieldSize(valueSize);
    entries[i * 3] = k;
    entries[i * 3 + 1] = s;
    entries[i * 3 + 2] = entry;
    inner += fieldSize(entry);
  }
  const value = fieldSize(inner);
  const entry = fieldSize(NAMESPACE_BYTES) + fieldSize(value);
  return { keys, entries, inner, value, entry };
}

/** The size of the dynamic_metadata field's payload (the outer Struct). */
const metadataPayload = (s: MetadataSizes): number => fieldSize(s.entry);

function writeMetadata(w: Writer, metadata: RequestMetadata, s: MetadataSizes): void {
  w.open(DYNAMIC_METADATA, metadataPayload(s));
  w.open(1, s.entry);
  w.string(1, METADATA_NAMESPACE, NAMESPACE_BYTES);
  w.open(2, s.value);
  w.open(5, s.inner);
  for (let i = 0; i < s.keys.length; i++) {
    const key = s.keys[i]!;
    const v = metadata[key]!;
    const stringBytes = s.entries[i * 3 + 1]!;
    w.open(1, s.entries[i * 3 + 2]!);
    w.string(1, key, s.entries[i * 3]!);
    if (stringBytes === -1) {
      w.open(2, 9);
      w.double(2, v as number);
    } else {
      w.open(2, fieldSize(stringBytes));
      w.string(3, v as string, stringBytes);
    }
  }
}

/** A HeaderMutation's sizes: each header's name and value, each removed name, and the whole. */
interface MutationSizes {
  readonly names: number[];
  readonly values: number[];
  readonly removed: number[];
  readonly total: number;
}

/** HeaderValue: key = 1, raw_value = 3 (only `raw_value`: Envoy reads nothing else, and both set fails the request). */
const headerValueSize = (name: number, value: number) => fieldSize(name) + fieldSize(value);

function mutationSizes(set: readonly HeaderPair[], remove: readonly string[]): MutationSizes {
  const names: number[] = [];
  const values: number[] = [];
  const removed: number[] = [];
  let total = 0;
  for (const [name, value] of set) {
    const n = Buffer.byteLength(name);
    const v = Buffer.byteLength(value);
    names.push(n);
    values.push(v);
    // HeaderMutation.set_headers = 1 → HeaderValueOption.header = 1 → HeaderValue.
    total += fieldSize(fieldSize(headerValueSize(n, v)));
  }
  for (const name of remove) {
    const n = Buffer.byteLength(name);
    removed.push(n);
    total += fieldSize(n); // remove_headers = 2
  }
  return { names, values, removed, total };
}

function writeMutation(w: Writer, field: number, set: readonly HeaderPair[], remove: readonly string[], s: MutationSizes): void {
  w.open(field, s.total);
  for (let i = 0; i < set.length; i++) {
    const [name, value] = set[i]!;
    const hv = headerValueSize(s.names[i]!, s.values[i]!);
    w.open(1, fieldSize(hv));
    w.open(1, hv);
    w.string(1, name, s.names[i]!);
    w.string(3, value, s.values[i]!);
  }
  for (let i = 0; i < remove.length; i++) w.string(2, remove[i]!, s.removed[i]!);
}

/** ProcessingMode: its six modes, fields 1–6 (a 0 is proto3's default, so not written). */
function processingMode(modes: readonly [number, number, number, number, number, number]): Buffer {
  const bytes: number[] = [];
  modes.forEach((mode, i) => {
    if (mode !== 0) bytes.push(tag(i + 1, VARINT), mode);
  });
  return Buffer.from(bytes);
}

// HeaderSendMode SEND = 1, SKIP = 2; BodySendMode NONE = 0, STREAMED = 1, BUFFERED = 2.
const SEND = 1;
const SKIP = 2;
const NONE = 0;
const STREAMED = 1;
const BUFFERED = 2;
/** A mode override of the response body alone (the other fields DEFAULT: unchanged). */
const responseBodyMode = (mode: number) => Buffer.from([tag(4, VARINT), mode]);
const STREAMED_RESPONSE_BODY = responseBodyMode(STREAMED);
const BUFFERED_RESPONSE_BODY = responseBodyMode(BUFFERED);
/** The fallback-hop filter's mode with the request body on, whole, for a rewrite. */
const WITH_REQUEST_BODY = processingMode([SEND, SKIP, BUFFERED, NONE, SKIP, SKIP]);
/** The shipped processing mode with the response-headers phase on (an override replaces every field). */
const WITH_RESPONSE_HEADERS = processingMode([SEND, SEND, BUFFERED, STREAMED, SKIP, SKIP]);

function modeOverrideOf(phase: Phase, outcome: Extract<Outcome, { kind: 'continue' }>): Buffer | null {
  // Envoy honours a mode override only in a reply to a headers message.
  if (phase === 'responseHeaders' && outcome.readBody !== undefined) return outcome.readBody === 'streamed' ? STREAMED_RESPONSE_BODY : BUFFERED_RESPONSE_BODY;
  if (phase !== 'requestHeaders') return null;
  if (outcome.readRequestBody === true) return WITH_REQUEST_BODY;
  if (outcome.sendResponseHeaders === true) return WITH_RESPONSE_HEADERS;
  return null;
}

/** A reply of `phase` with a CommonResponse: header mutation = 2, body mutation = 3 (body = 1), clear_route_cache = 5. */
function continueReply(phase: Phase, outcome: Extract<Outcome, { kind: 'continue' }>): Buffer {
  const hasMutation = outcome.setHeaders.length > 0 || outcome.removeHeaders.length > 0;
  const mutation = hasMutation ? mutationSizes(outcome.setHeaders, outcome.removeHeaders) : null;
  let common = 0;
  if (mutation !== null) common += fieldSize(mutation.total);
  if (outcome.body !== undefined) common += fieldSize(fieldSize(outcome.body.length));
  if (outcome.clearRouteCache === true) common += 2;
  const mode = modeOverrideOf(phase, outcome);
  const metadata = outcome.metadata === undefined ? null : metadataSizes(outcome.metadata);
  // Trailers replies (TrailersResponse) carry no CommonResponse.
  const trailers = phase === 'requestTrailers' || phase === 'responseTrailers';
  const phaseSize = trailers || common === 0 ? 0 : fieldSize(common);
  const w = new Writer(Buffer.allocUnsafe(fieldSize(phaseSize) + (mode === null ? 0 : fieldSize(mode.length)) + (metadata === null ? 0 : fieldSize(metadataPayload(metadata)))));
  w.open(PHASE_FIELD[phase], phaseSize);
  if (phaseSize > 0) {
    w.open(1, common);
    if (mutation !== null) writeMutation(w, 2, outcome.setHeaders, outcome.removeHeaders, mutation);
    if (outcome.body !== undefined) {
      w.open(3, fieldSize(outcome.body.length));
      w.bytes(1, outcome.body);
    }
    if (outcome.clearRouteCache === true) {
      w.buf[w.at++] = tag(5, VARINT);
      w.buf[w.at++] = 1;
    }
  }
  if (metadata !== null) writeMetadata(w, outcome.metadata!, metadata);
  if (mode !== null) w.bytes(MODE_OVERRIDE, mode);
  return w.buf;
}

const DETAILS = 'llm_router_reply';

/** ImmediateResponse: status = 1 (HttpStatus.code = 1), headers = 2, body = 3, details = 5. */
function immediateReply(outcome: Extract<Outcome, { kind: 'reply' }>): Buffer {
  const statusSize = 1 + varintSize(outcome.status);
  const mutation = mutationSizes(outcome.headers, []);
  const size = fieldSize(statusSize) + fieldSize(mutation.total) + fieldSize(outcome.body.length) + fieldSize(DETAILS.length);
  const metadata = outcome.metadata === undefined ? null : metadataSizes(outcome.metadata);
  const w = new Writer(Buffer.allocUnsafe(fieldSize(size) + (metadata === null ? 0 : fieldSize(metadataPayload(metadata)))));
  w.open(IMMEDIATE_RESPONSE, size);
  w.open(1, statusSize);
  w.buf[w.at++] = tag(1, VARINT);
  w.varint(outcome.status);
  writeMutation(w, 2, outcome.headers, [], mutation);
  w.bytes(3, outcome.body);
  w.string(5, DETAILS, DETAILS.length);
  if (metadata !== null) writeMetadata(w, outcome.metadata!, metadata);
  return w.buf;
}

/** Replies that pass a message unchanged are encoded once: the common case costs no allocation. */
const PASS_BYTES = new Map<Phase, Buffer>((Object.keys(PHASE_FIELD) as Phase[]).map((phase) => [phase, continueReply(phase, PASS as Extract<Outcome, { kind: 'continue' }>)]));

export function encodeOutcome(phase: Phase, outcome: Outcome): Buffer {
  if (outcome === PASS) return PASS_BYTES.get(phase)!;
  return outcome.kind === 'reply' ? immediateReply(outcome) : continueReply(phase, outcome);
}

/**
 * The router's spans of a request, children of Envoy's span for it (W3C trace context, the
 * `traceparent` Envoy sends on the ext_proc call). Pure: the clock, the ids and where finished spans
 * go are injected, so a test builds a trace without time or network (tracing-export.ts sends them).
 *
 * A request gets spans only when it is sampled: its parent says so (Envoy's sampling decides), and
 * its trace id falls under the configured ratio (the same id gives the same answer in every
 * process). Unsampled, or with tracing off, `begin` returns null and the request pays one branch.
 */

/** An attribute value as OTLP carries it. */
export type AttributeValue = string | number | boolean | readonly string[];
export type SpanAttributes = Readonly<Record<string, AttributeValue | null | undefined>>;

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
export type SpanKind = (typeof SPAN_KIND)[keyof typeof SPAN_KIND];

/** A finished span. Times are epoch milliseconds with a fraction. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: SpanAttributes;
  /** The operation failed: the span's status is ERROR with this message. */
  readonly error: string | null;
}

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A W3C `traceparent` header's context; null when absent or malformed (the request then starts a trace). */
export function parseTraceparent(value: string | undefined): TraceContext | null {
  if (value === undefined) return null;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return null;
  // Version 00 has exactly four fields; a later version may add more after a dash.
  if (m[1] === '00' && m[5] === '-') return null;
  return { traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 };
}

/**
 * Whether a trace id falls under `ratio`: its last 8 hex digits (random in W3C trace ids) as a
 * fraction of 2^32, so every process sampling at the same ratio agrees on the same trace.
 */
export function underRatio(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return parseInt(traceId.slice(24), 16) / 0x1_0000_0000 < ratio;
}

export interface TracerOptions {
  readonly sampleRatio: number;
  /** Epoch milliseconds, with a fraction. */
  now(): number;
  /** `bytes` random bytes as lower-case hex: 16 for a trace id, 8 for a span id. */
  randomHex(bytes: 8 | 16): string;
  /** Receives each request's spans once its root span ends. */
  export(spans: readonly SpanRecord[]): void;
}

export class Tracer {
  constructor(private readonly options: TracerOptions) {}

  /** The clock spans are timed with. */
  now(): number {
    return this.options.now();
  }

  /**
   * A request's trace, as a child of `traceparent` (a new trace without one); null when the request
   * is not sampled. `name` and `attributes` are its root span's, which may change until it ends.
   */
  begin(traceparent: string | undefined, name: string): RequestTrace | null {
    const parent = parseTraceparent(traceparent);
    if (parent !== null && !parent.sampled) return null;
    const traceId = parent?.traceId ?? this.options.randomHex(16);
    if (!underRatio(traceId, this.options.sampleRatio)) return null;
    return new RequestTrace(this.options, traceId, parent?.spanId ?? null, name);
  }
}

/** The router's root span of one request, and its children, exported together when it ends. */
export class RequestTrace {
  readonly spanId: string;
  private readonly startMs: number;
  private readonly children: SpanRecord[] = [];
  private readonly attributes: Record<string, AttributeValue | null | undefined> = {};
  private ended = false;

  constructor(
    private readonly options: TracerOptions,
    readonly traceId: string,
    private readonly parentSpanId: string | null,
    private name: string,
  ) {
    this.spanId = options.randomHex(8);
    this.startMs = options.now();
  }

  now(): number {
    return this.options.now();
  }

  /** The root span's name (`chat gpt-4o` once the model is known, as the GenAI conventions name it). */
  rename(name: string): void {
    this.name = name;
  }

  /** Sets attributes of the root span. */
  set(attributes: SpanAttributes): void {
    Object.assign(this.attributes, attributes);
  }

  /** A finished child span of the root. */
  child(name: string, kind: SpanKind, startMs: number, endMs: number, attributes: SpanAttributes, error: string | null = null): void {
    if (this.ended) return;
    this.children.push({ traceId: this.traceId, spanId: this.options.randomHex(8), parentSpanId: this.spanId, name, kind, startMs, endMs, attributes, error });
  }

  /** Ends the root span (once) and hands every span of the request to the exporter. */
  end(error: string | null = null): void {
    if (this.ended) return;
    this.ended = true;
    const root: SpanRecord = {
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      name: this.name,
      kind: SPAN_KIND.server,
      startMs: this.startMs,
      endMs: this.options.now(),
      attributes: this.attributes,
      error,
    };
    this.children.push(root);
    this.options.export(this.children);
  }
}

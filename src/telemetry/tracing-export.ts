/**
 * Spans to an OpenTelemetry collector over OTLP/HTTP with JSON bodies, batched: a request only
 * appends its spans to a queue; a timer (or a full batch) sends them, so the encoding and the POST
 * happen off the request's path. A collector that is down or slow costs at most the queue: past
 * `maxQueued` spans new ones are dropped and counted, never waited for.
 */
import { randomFillSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/compile.js';
import { Tracer, type AttributeValue, type SpanAttributes, type SpanRecord } from './tracing.js';

export interface ExporterOptions {
  /** The collector's traces URL: `http://host:4318/v1/traces`. */
  readonly url: string;
  readonly serviceName: string;
  readonly intervalMs: number;
  readonly maxBatch: number;
  readonly maxQueued: number;
  readonly post: (url: string, body: string) => Promise<void>;
  /** A batch could not be sent (once per failure, not per span). */
  readonly onError: (err: unknown, spans: number) => void;
}

type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: OtlpValue[] } };

function otlpValue(v: AttributeValue): OtlpValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
}

function otlpAttributes(attributes: SpanAttributes): { key: string; value: OtlpValue }[] {
  const out: { key: string; value: OtlpValue }[] = [];
  for (const key in attributes) {
    const v = attributes[key];
    if (v !== null && v !== undefined) out.push({ key, value: otlpValue(v) });
  }
  return out;
}

/** Epoch milliseconds (with a fraction) as OTLP's nanoseconds, a decimal string. */
function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

/** An OTLP `ExportTraceServiceRequest` in its JSON mapping (ids as hex, times as strings). */
export function exportRequest(spans: readonly SpanRecord[], serviceName: string): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: otlpAttributes({ 'service.name': serviceName }) },
        scopeSpans: [
          {
            scope: { name: 'llm-router' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId === null ? {} : { parentSpanId: s.parentSpanId }),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: nanos(s.startMs),
              endTimeUnixNano: nanos(s.endMs),
              attributes: otlpAttributes(s.attributes),
              status: s.error === null ? { code: 1 } : { code: 2, message: s.error },
            })),
          },
        ],
      },
    ],
  };
}

export class OtlpExporter {
  private queue: SpanRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  /** Spans dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly options: ExporterOptions) {}

  /** On the request's path: the spans are queued, nothing more. */
  add(spans: readonly SpanRecord[]): void {
    const { maxQueued, maxBatch, intervalMs } = this.options;
    if (this.queue.length + spans.length > maxQueued) {
      this.dropped += spans.length;
      return;
    }
    for (const s of spans) this.queue.push(s);
    if (this.queue.length >= maxBatch) this.schedule(0);
    else if (this.timer === null) this.schedule(intervalMs);
  }

  private schedule(ms: number): void {
    if (this.timer !== null) {
      if (ms > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  /** Sends everything queued, a batch at a time, after any send under way. */
  flush(): Promise<void> {
    const spans = this.queue;
    this.queue = [];
    if (spans.length === 0) return this.sending;
    const { maxBatch, url, post, onError } = this.options;
    this.sending = this.sending.then(async () => {
      for (let i = 0; i < spans.length; i += maxBatch) {
        const batch = spans.slice(i, i + maxBatch);
        try {
          await post(url, JSON.stringify(exportRequest(batch, this.options.serviceName)));
        } catch (err) {
          onError(err, batch.length);
        }
      }
    });
    return this.sending;
  }
}

/** One kept-alive connection per scheme to the collector: batches go one after another. */
const AGENTS = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 1 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 1 }) };

/**
 * POSTs a JSON body; a status other than 2xx, or no answer in 10 s, is an error. node:http rather
 * than fetch, which builds WHATWG request, response and stream objects around every call.
 */
export function postJson(url: string, body: string): Promise<void> {
  const target = new URL(url);
  const agent = target.protocol === 'https:' ? AGENTS['https:'] : AGENTS['http:'];
  const request = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', agent, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`the collector answered ${status}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('the collector did not answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Random ids from a pool refilled 4 KiB at a time: one system call per ~200 requests traced, not three per request. */
function randomHexSource(): (bytes: 8 | 16) => string {
  const pool = Buffer.alloc(4096);
  let at = pool.length;
  return (bytes) => {
    if (at + bytes > pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    at += bytes;
    return pool.toString('hex', at - bytes, at);
  };
}

/** The process's tracer, exporting to the configured collector; null when tracing is off. */
export function tracerFor(config: TracingConfig | null, log: Logger): Tracer | null {
  if (config === null) return null;
  let failing = false;
  const exporter = new OtlpExporter({
    url: config.tracesUrl,
    serviceName: config.serviceName,
    intervalMs: config.exportIntervalMs,
    maxBatch: 512,
    maxQueued: config.maxQueuedSpans,
    post: async (url, body) => {
      await postJson(url, body);
      if (failing) log.info({ url }, 'trace export recovered');
      failing = false;
    },
    onError: (err, spans) => {
      // Once per outage, not once per batch: a collector down for an hour would fill the log.
      if (!failing) log.warn({ err, url: config.tracesUrl, spans }, 'trace export failed: spans are dropped until the collector answers');
      failing = true;
    },
  });
  return new Tracer({ sampleRatio: config.sampleRatio, now: () => performance.timeOrigin + performance.now(), randomHex: randomHexSource(), export: (spans) => exporter.add(spans) });
}

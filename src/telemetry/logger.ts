import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Log lines wait in memory until this many characters (about ten request lines) or LOG_FLUSH_MS
 * have gathered, then go out joined in one write. Each write of Node's asynchronous file API is a
 * hop to a thread-pool thread and back: line by line, a router at chat c=16 spent about 7% of its
 * CPU (perf: main thread, worker and kernel) on those hops (docs/decisions.md, "Log lines in
 * batches"). The lines are kept apart until then: sonic-boom's own batching (`minLength`) appends
 * each line to one string and measures it, a copy of the whole batch per line.
 */
const LOG_BATCH_CHARS = 12 * 1024;
/** How long a line may wait for its batch: an operator tailing the log sees each request within it. */
const LOG_FLUSH_MS = 100;

/**
 * Stdout, written asynchronously so logging never blocks a request, in batches. `flush(cb)` calls
 * back once every line logged before it is written: the router's shutdown waits for it. A process
 * that exits without it still writes what waits, synchronously, but after a batch still being
 * written by the thread pool, if one is: those lines may come out of order.
 */
function batchedStdout(): DestinationStream & { flush(cb?: (err?: Error) => unknown): void } {
  // minLength 1 writes every batch at once, as 0 would, and lets flush(cb) wait for the writes
  // under way (sonic-boom calls back at once when minLength is 0).
  const stream = pino.destination({ dest: 1, sync: false, minLength: 1 });
  let lines: string[] = [];
  let chars = 0;
  const release = (): void => {
    if (lines.length === 0) return;
    const batch = lines.length === 1 ? lines[0]! : lines.join('');
    lines = [];
    chars = 0;
    stream.write(batch);
  };
  // A timer only: an idle router makes no writes.
  setInterval(release, LOG_FLUSH_MS).unref();
  // pino's own exit handler flushed the stream before this one ran; what waited here follows it.
  process.once('exit', () => {
    release();
    stream.flushSync();
  });
  return {
    write(line: string) {
      lines.push(line);
      chars += line.length;
      if (chars >= LOG_BATCH_CHARS) release();
    },
    // pino's logger.flush() reaches the stream through this.
    flush(cb) {
      release();
      stream.flush(cb);
    },
  };
}

/**
 * JSON lines on stdout (batchedStdout).
 *
 * Every line: `level` as a word (`info`, `warn`, `error`, …: what log shippers and `jq` filters
 * match on), `time` in ISO 8601 UTC like Envoy's access log, `name`, `pid`, `msg`; the rest in
 * camelCase (`requestId`, `deployment`, `latencyMs`: docs/operations.md, "Logs").
 */
export function createLogger(level: string, name = 'llm-router', destination: DestinationStream = batchedStdout()): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: ['headers.authorization', 'headers["x-api-key"]'],
    },
    destination,
  );
}

/**
 * One `info` line whose fields are plain JSON values, serialised by a single native
 * `JSON.stringify` and written to the logger's own destination in pino's layout: level, time,
 * the logger's bindings, the fields, `msg`. The per-request line (≈ 1.2 KB: the usage record, the
 * routing decision and its attempts) walked key by key by pino cost 0.17 M of a chat's 1.49 M
 * instructions (`npm run bench -- --cost`, docs/decisions.md). pino's serializers and redaction do
 * not apply, so `fields` must hold neither an error nor headers. `fields` may be several objects
 * with no key in common, written as one: a request's line is its own fields and its usage record,
 * without a merged copy of the record made for it.
 */
export function infoLine(log: Logger, fields: object | readonly object[], msg: string): void {
  if (!log.isLevelEnabled('info')) return;
  const own = log as unknown as PinoInternals;
  let members = '';
  if (Array.isArray(fields)) for (const part of fields as readonly object[]) members += membersOf(part);
  else members = membersOf(fields);
  own[pino.symbols.streamSym].write(`{"level":"info"${own[pino.symbols.timeSym]()}${own[pino.symbols.chindingsSym]}${members},"msg":${JSON.stringify(msg)}}\n`);
}

/** `,"a":1,"b":2` for `{ a: 1, b: 2 }`; nothing for an empty object. */
function membersOf(fields: object): string {
  const json = JSON.stringify(fields);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}

/** What infoLine reads of a pino logger: its destination, its time function and its bindings as JSON (`,"pid":1,"name":"llm-router"`). */
interface PinoInternals {
  readonly [pino.symbols.streamSym]: DestinationStream;
  readonly [pino.symbols.timeSym]: () => string;
  readonly [pino.symbols.chindingsSym]: string;
}

/**
 * Characters of a client-chosen string (x-request-id, method, path, a requested model) that log
 * lines and usage records keep. Envoy lets a header reach 60 KiB and a body field the whole body;
 * kept whole, each would ride on every log line of its request and on every record of the usage
 * log (a ring of `state.usage_log_max_entries` in the router's heap, a stream in Redis, the queue
 * while Redis is away), so a ring sized for ≈ 0.6 KB records could hold gigabytes.
 */
export const MAX_LOGGED_CHARS = 256;

/** `value` cut to MAX_LOGGED_CHARS, a cut one ending in `…`. */
export function clipped(value: string): string {
  return value.length <= MAX_LOGGED_CHARS ? value : `${value.slice(0, MAX_LOGGED_CHARS)}…`;
}

import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * JSON lines on stdout, written asynchronously so logging never blocks a request; flushed on exit.
 * No minimum batch size: an operator tailing the log sees each request as it ends.
 *
 * Every line: `level` as a word (`info`, `warn`, `error`, …: what log shippers and `jq` filters
 * match on), `time` in ISO 8601 UTC like Envoy's access log, `name`, `pid`, `msg`; the rest in
 * camelCase (`requestId`, `deployment`, `latencyMs`: docs/operations.md, "Logs").
 */
export function createLogger(level: string, name = 'llm-router', destination: DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
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

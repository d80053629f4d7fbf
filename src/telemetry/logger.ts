import pino, { type Logger } from 'pino';

/**
 * JSON lines on stdout, written asynchronously so logging never blocks a request; flushed on exit.
 * No minimum batch size: an operator tailing the log sees each request as it ends.
 */
export function createLogger(level: string, name = 'llm-router'): Logger {
  return pino(
    { name, level, base: { pid: process.pid }, redact: ['headers.authorization', 'headers["x-api-key"]'] },
    pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * Envoy ends every ext_proc stream with RST_STREAM INTERNAL_ERROR, even one the router has already
 * answered and closed (its filter resets the gRPC stream rather than half-closing it). Node's
 * HTTP/2 stream then builds an ERR_HTTP2_STREAM_ERROR and formats its stack trace, which nothing
 * reads: grpc-js only learns that the call ended. That was 3.9% of the router's CPU under load
 * (bench --profile: `NodeError` and `defaultPrepareStackTrace`, called from `onStreamClose`).
 *
 * The error is still made and passed on, without the stack trace — a trace of Node's own stream
 * teardown, the same for every request. Patched once per process on the server streams' prototype,
 * like grpc-js's other internals in server.ts; a Node whose streams look different is left alone.
 */
import type { Http2Server, ServerHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';
import type { Logger } from 'pino';

const TRACELESS = Symbol('llm-router: stream resets without a stack trace');

type Destroy = (this: ServerHttp2Stream, err: Error | null, callback: (err?: Error | null) => void) => void;

function patch(proto: { _destroy?: Destroy; [TRACELESS]?: true }, log: Logger): void {
  if (proto[TRACELESS]) return;
  proto[TRACELESS] = true;
  const destroy = proto._destroy;
  if (typeof destroy !== 'function') {
    log.warn('Node internals changed: each ext_proc stream reset costs a stack trace');
    return;
  }
  proto._destroy = function (this: ServerHttp2Stream, err, callback) {
    if (err !== null || this.rstCode !== constants.NGHTTP2_INTERNAL_ERROR) return destroy.call(this, err, callback);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      destroy.call(this, err, callback);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}

/** After bind: the first stream of each of the router's HTTP/2 servers patches its kind's prototype. */
export function tracelessStreamResets(http2Servers: Iterable<Http2Server>, log: Logger): void {
  for (const server of http2Servers) server.once('stream', (stream: ServerHttp2Stream) => patch(Object.getPrototypeOf(stream) as object, log));
}

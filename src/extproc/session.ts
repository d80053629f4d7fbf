/**
 * One gRPC stream = one HTTP request (the downstream filter) or one attempt of it (the upstream
 * filter). The session dispatches each Envoy message to the matching phase of its handler and
 * writes exactly one reply per message, in order.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PASS, type Outcome, type StreamHandler } from '../pipeline/types.js';
import type { EnvoyMessage } from './decode.js';
import { encodeOutcome, type Phase } from './translate.js';

const INTERNAL_ERROR: Outcome = {
  kind: 'reply',
  status: 500,
  body: Buffer.from(JSON.stringify({ error: { message: 'Internal router error.', type: 'server_error', param: null, code: 'internal_error' } })),
  headers: [['content-type', 'application/json']],
};

type SendMessage = (message: Buffer, callback: () => void) => void;
const NOTHING = (): void => {};
let warnedNoSendMessage = false;

/**
 * How a session writes its replies. grpc-js's duplex stream is a Node Writable over the call: each
 * write goes through the Writable's queue and callbacks (a `nextTick` per write) only to reach the
 * call's `sendMessage`, which frames the reply and writes it to the HTTP/2 stream, itself a Writable
 * that keeps writes in order. One reply per message, in order, needs only that: the session calls
 * `sendMessage` itself where grpc-js has it (docs/decisions.md, "Replies written to the call").
 * `end()` still goes through the stream, so the status follows the replies on the HTTP/2 stream.
 */
function replyWriter(call: ServerDuplexStream<EnvoyMessage, Buffer>, log: Logger): (reply: Buffer) => void {
  const inner = (call as unknown as { call?: { sendMessage?: SendMessage } }).call;
  const send = inner?.sendMessage;
  if (typeof send !== 'function') {
    if (!warnedNoSendMessage) log.warn('grpc-js internals changed: replies go through the stream\'s Writable (more CPU per message)');
    warnedNoSendMessage = true;
    return (reply) => void call.write(reply);
  }
  return (reply) => send.call(inner, reply, NOTHING);
}

export function runSession(call: ServerDuplexStream<EnvoyMessage, Buffer>, exchange: StreamHandler, log: Logger): void {
  const write = replyWriter(call, log);
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    exchange.onEnd();
  };

  /** Turns one Envoy message into the exchange's outcome for it; a promise when routing reads the store. */
  const handle = (m: EnvoyMessage & { readonly phase: Phase }): Outcome | Promise<Outcome> => {
    try {
      switch (m.phase) {
        case 'requestHeaders':
          return exchange.onRequestHeaders(m.headers, m.endOfStream, m.attributes);
        case 'requestBody':
          return exchange.onRequestBody(m.body);
        case 'responseHeaders':
          return exchange.onResponseHeaders(m.headers, m.endOfStream, m.attributes);
        case 'responseBody':
          return exchange.onResponseBody(m.body, m.endOfStream, m.attributes);
        default:
          // Our processing mode never asks for trailers; if an operator's config does, pass them.
          return PASS;
      }
    } catch (err) {
      return failed(m.phase, err);
    }
  };
  const failed = (phase: Phase, err: unknown): Outcome => {
    log.error({ err, case: phase }, 'ext_proc session failed');
    return phase.startsWith('request') ? INTERNAL_ERROR : PASS;
  };
  const reply = (phase: Phase, outcome: Outcome): void => {
    if (ended) return;
    write(encodeOutcome(phase, outcome));
    // Close with OK as soon as the request needs the router no more, so the session is released
    // now rather than when Envoy tears the filter down (see raiseStreamResetLimit in server.ts).
    if (exchange.done) call.end();
  };
  const dispatch = (m: EnvoyMessage): void | Promise<void> => {
    if (m.phase === null) {
      log.warn('ext_proc message without a request case');
      return;
    }
    const phase = m.phase;
    const outcome = handle(m);
    if (!(outcome instanceof Promise)) return reply(phase, outcome);
    return outcome.then(
      (o) => reply(phase, o),
      (err: unknown) => reply(phase, failed(phase, err)),
    );
  };
  /** Set while an asynchronous outcome is pending: later messages wait behind it, so replies stay in order. */
  let queue: Promise<void> | null = null;
  call.on('data', (m: EnvoyMessage) => {
    const run = queue === null ? dispatch(m) : queue.then(() => dispatch(m));
    if (run instanceof Promise) {
      const mine: Promise<void> = run.then(() => {
        if (queue === mine) queue = null;
      });
      queue = mine;
    }
  });
  call.on('end', () => {
    end();
    call.end();
  });
  call.on('cancelled', end);
  call.on('error', end);
  call.on('close', end);
}

/**
 * One gRPC stream = one HTTP request (the downstream filter) or one attempt of it (the upstream
 * filter). The session dispatches each Envoy message to the matching phase of its handler and
 * writes exactly one reply per message, in order.
 *
 * It listens on grpc-js's call itself (`ServerInterceptingCallInterface`, served by
 * `CallMethod` in server.ts), not on the Node Duplex stream grpc-js's handlers wrap around it:
 * the stream's Readable and Writable add a queue, callbacks and `nextTick`s to every message and
 * reply, and the session needs none of them (docs/decisions.md, "The session on grpc-js's call").
 */
import type { Metadata, ServerInterceptingCallInterface } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
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

const NOTHING = (): void => {};
const OK = { code: status.OK, details: 'OK' };

/** What grpc-js's call tells its listener: the call's metadata, each message, the client's half-close, the call's end. */
export interface CallListener {
  onReceiveMetadata(metadata: Metadata): void;
  onReceiveMessage(message: unknown): void;
  onReceiveHalfClose(): void;
  onCancel(): void;
}

export class Session implements CallListener {
  private exchange: StreamHandler | null = null;
  /** The exchange was told the stream ended. */
  private ended = false;
  /** The call's status is sent: no reply may follow. */
  private closed = false;
  /** Set while an asynchronous outcome is pending: later messages wait behind it, so replies stay in order. */
  private queue: Promise<void> | null = null;

  constructor(
    private readonly call: ServerInterceptingCallInterface,
    /** The handler of a new stream, from its gRPC metadata (which filter sent it, its trace context). */
    private readonly open: (metadata: Metadata) => StreamHandler,
    private readonly log: Logger,
  ) {}

  onReceiveMetadata(metadata: Metadata): void {
    try {
      this.exchange = this.open(metadata);
    } catch (err) {
      this.log.error({ err }, 'ext_proc session failed to start');
      this.closed = true;
      this.call.sendStatus({ code: status.INTERNAL, details: 'router failed to start the session' });
      return;
    }
    this.call.startRead();
  }

  onReceiveMessage(message: unknown): void {
    const m = message as EnvoyMessage;
    const queue = this.queue;
    const run = queue === null ? this.dispatch(m) : queue.then(() => this.dispatch(m));
    if (run instanceof Promise) {
      const mine: Promise<void> = run.then(() => {
        if (this.queue === mine) this.queue = null;
      });
      this.queue = mine;
    }
    // Asked after the dispatch: grpc-js hands over a message already read at once, inside this call.
    if (!this.closed) this.call.startRead();
  }

  onReceiveHalfClose(): void {
    this.end();
    this.close();
  }

  onCancel(): void {
    this.end();
  }

  private end(): void {
    if (this.ended || this.exchange === null) return;
    this.ended = true;
    this.exchange.onEnd();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.sendStatus(OK);
  }

  private dispatch(m: EnvoyMessage): void | Promise<void> {
    if (m.phase === null) {
      this.log.warn('ext_proc message without a request case');
      return;
    }
    const phase = m.phase;
    const outcome = this.handle(m as EnvoyMessage & { readonly phase: Phase });
    if (!(outcome instanceof Promise)) return this.reply(phase, outcome);
    return outcome.then(
      (o) => this.reply(phase, o),
      (err: unknown) => this.reply(phase, this.failed(phase, err)),
    );
  }

  /** Turns one Envoy message into the exchange's outcome for it; a promise when routing reads the store. */
  private handle(m: EnvoyMessage & { readonly phase: Phase }): Outcome | Promise<Outcome> {
    const exchange = this.exchange!;
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
      return this.failed(m.phase, err);
    }
  }

  private failed(phase: Phase, err: unknown): Outcome {
    this.log.error({ err, case: phase }, 'ext_proc session failed');
    return phase.startsWith('request') ? INTERNAL_ERROR : PASS;
  }

  private reply(phase: Phase, outcome: Outcome): void {
    if (this.ended || this.closed) return;
    this.call.sendMessage(encodeOutcome(phase, outcome), NOTHING);
    // Close with OK as soon as the request needs the router no more, so the session is released
    // now rather than when Envoy tears the filter down (see raiseStreamResetLimit in server.ts).
    if (this.exchange!.done) this.close();
  }
}

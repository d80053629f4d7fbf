/**
 * The ext_proc session on grpc-js's call: one reply per message in the order the messages came,
 * whether an outcome is ready at once or later; the stream closed with OK once the request needs
 * the router no more, and nothing written after; a failing handler answered, never thrown into
 * grpc-js.
 */
import { Metadata, status, type ServerInterceptingCallInterface } from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EnvoyMessage } from '../../../src/extproc/decode.js';
import { Session } from '../../../src/extproc/session.js';
import { encodeOutcome } from '../../../src/extproc/translate.js';
import { NO_ATTRIBUTES, PASS, type Outcome, type StreamHandler } from '../../../src/pipeline/types.js';

const log = pino({ level: 'silent' });

/** What the session did to its call: replies, statuses, reads asked for. */
class FakeCall {
  readonly replies: Buffer[] = [];
  readonly statuses: number[] = [];
  reads = 0;
  sendMessage(message: Buffer, callback: () => void): void {
    this.replies.push(message);
    callback();
  }
  sendStatus(s: { code: number }): void {
    this.statuses.push(s.code);
  }
  startRead(): void {
    this.reads += 1;
  }
}

const ROUTED: Outcome = { kind: 'continue', setHeaders: [['x-llm-cluster', 'a']], removeHeaders: [], clearRouteCache: true };
const headers = (): EnvoyMessage => ({ phase: 'requestHeaders', headers: { ':path': '/v1/chat/completions' }, endOfStream: false, attributes: NO_ATTRIBUTES });
const body = (): EnvoyMessage => ({ phase: 'requestBody', body: Buffer.from('{}'), endOfStream: true, attributes: NO_ATTRIBUTES });
const answer = (): EnvoyMessage => ({ phase: 'responseBody', body: Buffer.from('{}'), endOfStream: true, attributes: NO_ATTRIBUTES });

function handler(over: Partial<Omit<StreamHandler, 'done'>> & { done?: () => boolean }): StreamHandler & { ends: number } {
  const h = {
    ends: 0,
    onRequestHeaders: () => PASS,
    onRequestBody: () => PASS,
    onResponseHeaders: () => PASS,
    onResponseBody: () => PASS,
    onEnd() {
      h.ends += 1;
    },
    ...over,
    get done() {
      return over.done?.() ?? false;
    },
  };
  return h;
}

function start(h: StreamHandler): { call: FakeCall; session: Session } {
  const call = new FakeCall();
  const session = new Session(call as unknown as ServerInterceptingCallInterface, () => h, log);
  session.onReceiveMetadata(new Metadata());
  return { call, session };
}

describe('ext_proc session on the call', () => {
  it('answers each message in order when an outcome comes later, and keeps reading', async () => {
    let release!: (o: Outcome) => void;
    const { call, session } = start(handler({ onRequestBody: () => new Promise<Outcome>((r) => (release = r)) }));
    session.onReceiveMessage(headers());
    session.onReceiveMessage(body());
    session.onReceiveMessage(answer());
    // The body's outcome is pending: the answer's reply waits behind it.
    expect(call.replies).toEqual([encodeOutcome('requestHeaders', PASS)]);
    release(ROUTED);
    await new Promise((r) => setImmediate(r));
    expect(call.replies).toEqual([encodeOutcome('requestHeaders', PASS), encodeOutcome('requestBody', ROUTED), encodeOutcome('responseBody', PASS)]);
    expect(call.reads).toBe(4);
  });

  it('closes with OK once the request needs the router no more, writes nothing after, and ends the exchange once', () => {
    let answered = false;
    const h = handler({
      onResponseBody: () => {
        answered = true;
        return PASS;
      },
      done: () => answered,
    });
    const { call, session } = start(h);
    session.onReceiveMessage(headers());
    session.onReceiveMessage(answer());
    expect(call.statuses).toEqual([status.OK]);
    const reads = call.reads;
    session.onReceiveMessage(answer());
    session.onReceiveHalfClose();
    session.onCancel();
    expect(call.replies).toHaveLength(2);
    expect(call.statuses).toEqual([status.OK]);
    expect(call.reads).toBe(reads);
    expect(h.ends).toBe(1);
  });

  it('answers a request phase whose handler throws with a 500, and a response phase with a pass', () => {
    const { call, session } = start(
      handler({
        onRequestBody: () => {
          throw new Error('boom');
        },
        onResponseBody: () => {
          throw new Error('boom');
        },
      }),
    );
    session.onReceiveMessage(body());
    session.onReceiveMessage(answer());
    expect(call.replies[0]!.equals(encodeOutcome('requestBody', PASS))).toBe(false);
    expect(call.replies[1]).toEqual(encodeOutcome('responseBody', PASS));
  });

  it('ends the call with INTERNAL when its handler cannot be made, and asks for no message', () => {
    const call = new FakeCall();
    const session = new Session(
      call as unknown as ServerInterceptingCallInterface,
      () => {
        throw new Error('no pipeline');
      },
      log,
    );
    session.onReceiveMetadata(new Metadata());
    session.onCancel();
    expect(call.statuses).toEqual([status.INTERNAL]);
    expect(call.reads).toBe(0);
  });

  it('sends OK after the client half-closes, once', () => {
    const h = handler({});
    const { call, session } = start(h);
    session.onReceiveMessage(headers());
    session.onReceiveHalfClose();
    session.onCancel();
    expect(call.statuses).toEqual([status.OK]);
    expect(h.ends).toBe(1);
  });
});

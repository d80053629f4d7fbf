/**
 * One gRPC stream = one HTTP request. The session dispatches each Envoy message to the matching
 * phase of its pipeline exchange and writes exactly one reply per message, in order.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ProcessingRequest } from '../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import type { Exchange } from '../pipeline/pipeline.js';
import { PASS, type Outcome } from '../pipeline/types.js';
import { asBuffer, encodeOutcome, readHeaders, responseStatus, type Phase } from './translate.js';

const INTERNAL_ERROR: Outcome = {
  kind: 'reply',
  status: 500,
  body: Buffer.from(JSON.stringify({ error: { message: 'Internal router error.', type: 'server_error', param: null, code: 'internal_error' } })),
  headers: [['content-type', 'application/json']],
};

export function runSession(call: ServerDuplexStream<ProcessingRequest, Buffer>, exchange: Exchange, log: Logger): void {
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    exchange.onEnd();
  };

  call.on('data', (req: ProcessingRequest) => {
    const r = req.request;
    let phase: Phase;
    let outcome: Outcome;
    try {
      switch (r.case) {
        case 'requestHeaders':
          phase = r.case;
          outcome = exchange.onRequestHeaders(readHeaders(r.value.headers), r.value.endOfStream);
          break;
        case 'requestBody':
          phase = r.case;
          outcome = exchange.onRequestBody(asBuffer(r.value.body));
          break;
        case 'responseHeaders':
          phase = r.case;
          outcome = exchange.onResponseHeaders(readHeaders(r.value.headers), r.value.endOfStream);
          break;
        case 'responseBody':
          phase = r.case;
          outcome = exchange.onResponseBody(asBuffer(r.value.body), r.value.endOfStream, responseStatus(req));
          break;
        case 'requestTrailers':
        case 'responseTrailers':
          // Our processing mode never asks for trailers; if an operator's config does, pass them.
          phase = r.case;
          outcome = PASS;
          break;
        default:
          log.warn('ext_proc message without a request case');
          return;
      }
    } catch (err) {
      log.error({ err, case: r.case }, 'ext_proc session failed');
      phase = r.case as Phase;
      outcome = phase.startsWith('request') ? INTERNAL_ERROR : PASS;
    }
    call.write(encodeOutcome(phase, outcome));
    // Close with OK as soon as the request needs the router no more, so the session is released
    // now rather than when Envoy tears the filter down (see raiseStreamResetLimit in server.ts).
    if (exchange.done) call.end();
  });
  call.on('end', () => {
    end();
    call.end();
  });
  call.on('cancelled', end);
  call.on('error', end);
  call.on('close', end);
}

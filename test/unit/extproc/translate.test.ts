/** What the router sends Envoy, decoded with the generated codecs of Envoy's own API. */
import { create, fromBinary, toJson } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProcessingMode_BodySendMode, ProcessingMode_HeaderSendMode, ProcessingModeSchema } from '../../gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.js';
import { ProcessingResponseSchema, type ProcessingResponse } from '../../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import type { StatusCode } from '../../gen/envoy/type/v3/http_status_pb.js';
import { encodeOutcome, type Phase } from '../../../src/extproc/translate.js';
import { PASS, type HeaderPair, type Outcome } from '../../../src/pipeline/types.js';

describe('encodeOutcome', () => {
  it('sets header values only in raw_value (Envoy ignores `value` and fails on both)', () => {
    const bytes = encodeOutcome('requestBody', {
      kind: 'continue',
      setHeaders: [['x-llm-cluster', 'mini-a']],
      removeHeaders: ['authorization'],
      body: Buffer.from('{}'),
      clearRouteCache: true,
    });
    const msg = fromBinary(ProcessingResponseSchema, bytes);
    expect(msg.response.case).toBe('requestBody');
    const common = (msg.response.value as { response: { headerMutation: { setHeaders: Array<{ header: { key: string; value: string; rawValue: Uint8Array } }>; removeHeaders: string[] }; clearRouteCache: boolean; bodyMutation: { mutation: { case: string; value: Uint8Array } } } }).response;
    const h = common.headerMutation.setHeaders[0]!.header;
    expect([h.key, h.value, Buffer.from(h.rawValue).toString()]).toEqual(['x-llm-cluster', '', 'mini-a']);
    expect(common.headerMutation.removeHeaders).toEqual(['authorization']);
    expect(common.clearRouteCache).toBe(true);
    expect(Buffer.from(common.bodyMutation.mutation.value).toString()).toBe('{}');
  });

  it('answers with an immediate response for a reply', () => {
    const msg = fromBinary(ProcessingResponseSchema, encodeOutcome('requestHeaders', { kind: 'reply', status: 404, body: Buffer.from('{"error":{}}'), headers: [['content-type', 'application/json']] }));
    expect(msg.response.case).toBe('immediateResponse');
    const r = msg.response.value as { status: { code: number }; body: Uint8Array };
    expect(r.status.code).toBe(404);
    expect(Buffer.from(r.body).toString()).toBe('{"error":{}}');
  });

  it('switches the response body to STREAMED only when asked, in the headers reply', () => {
    const msg = fromBinary(ProcessingResponseSchema, encodeOutcome('responseHeaders', { kind: 'continue', setHeaders: [], removeHeaders: [], readBody: 'streamed' }));
    expect(msg.modeOverride?.responseBodyMode).toBe(ProcessingMode_BodySendMode.STREAMED);
    expect(fromBinary(ProcessingResponseSchema, encodeOutcome('responseHeaders', PASS)).modeOverride).toBeUndefined();
  });

  it.each(['requestHeaders', 'requestBody', 'responseHeaders', 'responseBody', 'requestTrailers', 'responseTrailers'] as const)(
    'PASS in %s is a reply of the same phase with no changes',
    (phase) => {
      const msg = fromBinary(ProcessingResponseSchema, encodeOutcome(phase, PASS));
      expect(msg.response.case).toBe(phase);
    },
  );
});

describe('encodeOutcome: the same replies as the generated encoder', () => {
  /** The oracle: the reply as a generated message (how the router encoded replies before). */
  function expected(phase: Phase, outcome: Outcome): ProcessingResponse {
    const headerOptions = (pairs: readonly HeaderPair[]) => pairs.map(([key, value]) => ({ header: { key, rawValue: Buffer.from(value) } }));
    if (outcome.kind === 'reply') {
      return create(ProcessingResponseSchema, {
        response: { case: 'immediateResponse', value: { status: { code: outcome.status as StatusCode }, headers: { setHeaders: headerOptions(outcome.headers) }, body: outcome.body, details: 'llm_router_reply' } },
      });
    }
    if (phase === 'requestTrailers' || phase === 'responseTrailers') return create(ProcessingResponseSchema, { response: { case: phase, value: {} } });
    const mutation = outcome.setHeaders.length > 0 || outcome.removeHeaders.length > 0;
    const common = {
      headerMutation: mutation ? { setHeaders: headerOptions(outcome.setHeaders), removeHeaders: [...outcome.removeHeaders] } : undefined,
      bodyMutation: outcome.body === undefined ? undefined : { mutation: { case: 'body' as const, value: outcome.body } },
      clearRouteCache: outcome.clearRouteCache === true,
    };
    const empty = !mutation && outcome.body === undefined && outcome.clearRouteCache !== true;
    const message = create(ProcessingResponseSchema, { response: { case: phase, value: empty ? {} : { response: common } } });
    if (phase === 'responseHeaders' && outcome.readBody !== undefined) {
      message.modeOverride = create(ProcessingModeSchema, { responseBodyMode: outcome.readBody === 'streamed' ? ProcessingMode_BodySendMode.STREAMED : ProcessingMode_BodySendMode.BUFFERED });
    }
    if (phase === 'requestHeaders' && outcome.sendResponseHeaders === true) {
      message.modeOverride = create(ProcessingModeSchema, {
        requestHeaderMode: ProcessingMode_HeaderSendMode.SEND,
        requestBodyMode: ProcessingMode_BodySendMode.BUFFERED,
        requestTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
        responseHeaderMode: ProcessingMode_HeaderSendMode.SEND,
        responseBodyMode: ProcessingMode_BodySendMode.STREAMED,
        responseTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
      });
    }
    if (phase === 'requestHeaders' && outcome.readRequestBody === true) {
      message.modeOverride = create(ProcessingModeSchema, {
        requestHeaderMode: ProcessingMode_HeaderSendMode.SEND,
        requestBodyMode: ProcessingMode_BodySendMode.BUFFERED,
        requestTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
        responseHeaderMode: ProcessingMode_HeaderSendMode.SKIP,
        responseBodyMode: ProcessingMode_BodySendMode.NONE,
        responseTrailerMode: ProcessingMode_HeaderSendMode.SKIP,
      });
    }
    return message;
  }

  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  const pair = fc.tuple(text, fc.oneof(text, fc.string({ maxLength: 300 }))) as fc.Arbitrary<HeaderPair>;
  const phase = fc.constantFrom<Phase>('requestHeaders', 'requestBody', 'requestTrailers', 'responseHeaders', 'responseBody', 'responseTrailers');
  const body = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b));
  const continued: fc.Arbitrary<Outcome> = fc.record(
    {
      kind: fc.constant('continue' as const),
      setHeaders: fc.array(pair, { maxLength: 14 }),
      removeHeaders: fc.array(text, { maxLength: 5 }),
      body,
      clearRouteCache: fc.boolean(),
      readBody: fc.constantFrom('streamed' as const, 'buffered' as const),
      sendResponseHeaders: fc.boolean(),
      readRequestBody: fc.boolean(),
    },
    { requiredKeys: ['kind', 'setHeaders', 'removeHeaders'] },
  );
  const reply: fc.Arbitrary<Outcome> = fc.record({ kind: fc.constant('reply' as const), status: fc.integer({ min: 200, max: 599 }), body, headers: fc.array(pair, { maxLength: 4 }) });

  it('decodes to the message the generated encoder writes, for every kind of reply', () => {
    fc.assert(
      fc.property(phase, fc.oneof(continued, reply, fc.constant(PASS)), (p, outcome) => {
        // In JSON form: bytes and defaults compare by value, whichever encoder wrote them.
        const json = (m: ProcessingResponse) => toJson(ProcessingResponseSchema, m);
        expect(json(fromBinary(ProcessingResponseSchema, encodeOutcome(p, outcome)))).toEqual(json(expected(p, outcome)));
      }),
      { seed: 77, numRuns: 2000 },
    );
  });
});

describe('encodeOutcome: dynamic metadata', () => {
  const metadata = { deployment: 'mini-a', model_group: 'gpt-4o-mini', provider: 'openai', input_tokens: 1000, cost_usd: 0.00021, note: 'ünïcode ✓' };

  it.each(['requestBody', 'responseBody', 'responseHeaders'] as const)('%s: the router\'s fields under the llm_router namespace, strings and numbers', (phase) => {
    const msg = fromBinary(ProcessingResponseSchema, encodeOutcome(phase, { kind: 'continue', setHeaders: [['x-llm-cluster', 'mini-a']], removeHeaders: [], body: Buffer.from('{}'), metadata }));
    expect(msg.response.case).toBe(phase);
    expect(msg.dynamicMetadata).toEqual({ llm_router: metadata });
  });

  it('with an immediate response, and beside a mode override', () => {
    const reply = fromBinary(ProcessingResponseSchema, encodeOutcome('requestBody', { kind: 'reply', status: 429, body: Buffer.from('{}'), headers: [], metadata: { error: 'budget_exceeded' } }));
    expect(reply.response.case).toBe('immediateResponse');
    expect(reply.dynamicMetadata).toEqual({ llm_router: { error: 'budget_exceeded' } });
    const withMode = fromBinary(ProcessingResponseSchema, encodeOutcome('responseHeaders', { kind: 'continue', setHeaders: [], removeHeaders: [], readBody: 'streamed', metadata: { n: 1 } }));
    expect(withMode.modeOverride?.responseBodyMode).toBe(ProcessingMode_BodySendMode.STREAMED);
    expect(withMode.dynamicMetadata).toEqual({ llm_router: { n: 1 } });
  });

  it('property: any names, strings and finite numbers decode as written', () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 40 }).filter((k) => k !== '__proto__'), value, { maxKeys: 12 }), (m) => {
        const msg = fromBinary(ProcessingResponseSchema, encodeOutcome('responseBody', { kind: 'continue', setHeaders: [], removeHeaders: [], metadata: m }));
        expect(msg.dynamicMetadata).toEqual({ llm_router: Object.keys(m).length === 0 ? {} : m });
      }),
    );
  });
});

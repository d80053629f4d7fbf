/**
 * The hand-written ProcessingRequest decoder against the generated one: every message Envoy can
 * send, built with the generated codecs, reads the same through both (the generated decoder's
 * result turned into plain values as the router used to); bytes that are no message throw.
 */
import { create, fromBinary, toBinary, type JsonObject, type MessageInitShape } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeProcessingRequest, type EnvoyMessage } from '../../../src/extproc/decode.js';
import { ProcessingRequestSchema, type ProcessingRequest } from '../../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { NO_ATTRIBUTES, type Attributes } from '../../../src/pipeline/types.js';

const SEED = 4242;

/** The oracle: the generated decoder's message as plain values. */
function expected(m: ProcessingRequest): EnvoyMessage {
  const a = m.attributes['envoy.filters.http.ext_proc'] as JsonObject | undefined;
  const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const attributes: Attributes =
    a === undefined
      ? NO_ATTRIBUTES
      : {
          status: num(a['response.code']),
          cluster: text(a['xds.cluster_name']),
          attempt: num(a['upstream.request_attempt_count']),
          requestId: text(a["request.headers['x-request-id']"]),
          plan: text(a["request.headers['x-llm-plan']"]),
          nextCluster: text(a["request.headers['x-llm-cluster']"]),
        };
  const r = m.request;
  switch (r.case) {
    case 'requestHeaders':
    case 'responseHeaders': {
      const headers = Object.create(null) as Record<string, string>;
      for (const h of r.value.headers?.headers ?? []) if (headers[h.key] === undefined) headers[h.key] = h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString('utf8') : h.value;
      return { phase: r.case, headers, endOfStream: r.value.endOfStream, attributes };
    }
    case 'requestBody':
    case 'responseBody':
      return { phase: r.case, body: Buffer.from(r.value.body), endOfStream: r.value.endOfStream, attributes };
    case 'requestTrailers':
    case 'responseTrailers':
      return { phase: r.case, attributes };
    default:
      return { phase: null, attributes };
  }
}

const decode = (init: MessageInitShape<typeof ProcessingRequestSchema>) => decodeProcessingRequest(Buffer.from(toBinary(ProcessingRequestSchema, create(ProcessingRequestSchema, init))));
const oracle = (init: MessageInitShape<typeof ProcessingRequestSchema>) => expected(fromBinary(ProcessingRequestSchema, toBinary(ProcessingRequestSchema, create(ProcessingRequestSchema, init))));

describe('decodeProcessingRequest', () => {
  it('reads a request-headers message: raw values as UTF-8, `value` as fallback, the first of repeated names, the attributes', () => {
    const init: MessageInitShape<typeof ProcessingRequestSchema> = {
      request: {
        case: 'requestHeaders',
        value: {
          headers: {
            headers: [
              { key: ':path', rawValue: Buffer.from('/v1/chat/completions') },
              { key: 'x-name', rawValue: Buffer.from('jürgen') },
              { key: 'x-old', value: 'plain' },
              { key: 'x-name', rawValue: Buffer.from('second') },
            ],
          },
          endOfStream: false,
        },
      },
      attributes: { 'envoy.filters.http.ext_proc': { 'xds.cluster_name': 'gpt-a', 'upstream.request_attempt_count': 2, 'request.path': '/x' } },
    };
    const m = decode(init);
    expect(m).toEqual({
      phase: 'requestHeaders',
      headers: { ':path': '/v1/chat/completions', 'x-name': 'jürgen', 'x-old': 'plain' },
      endOfStream: false,
      attributes: { status: null, cluster: 'gpt-a', attempt: 2, requestId: null, plan: null, nextCluster: null },
    });
  });

  it('gives a body as a view of the received bytes, not a copy', () => {
    const bytes = Buffer.from(toBinary(ProcessingRequestSchema, create(ProcessingRequestSchema, { request: { case: 'responseBody', value: { body: Buffer.from('data: {}\n\n'), endOfStream: true } } })));
    const m = decodeProcessingRequest(bytes);
    if (m.phase !== 'responseBody') throw new Error(String(m.phase));
    expect(m.body.toString()).toBe('data: {}\n\n');
    expect(m.body.buffer).toBe(bytes.buffer);
    expect(m.endOfStream).toBe(true);
  });

  const headerEntry = fc.record({
    key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', ':status', 'x-request-id')),
    value: fc.string({ maxLength: 10 }),
    rawValue: fc.uint8Array({ maxLength: 12 }),
  });
  const attributeValue = fc.oneof(fc.string({ maxLength: 8 }), fc.double({ noNaN: true }), fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }));
  const attributeName = fc.constantFrom('response.code', 'xds.cluster_name', 'upstream.request_attempt_count', "request.headers['x-request-id']", "request.headers['x-llm-plan']", "request.headers['x-llm-cluster']", 'request.path', 'other');
  const struct = fc.dictionary(attributeName, attributeValue, { maxKeys: 6 });
  const request = fc.oneof(
    fc.record({ case: fc.constantFrom('requestHeaders' as const, 'responseHeaders' as const), value: fc.record({ headers: fc.record({ headers: fc.array(headerEntry, { maxLength: 8 }) }), endOfStream: fc.boolean() }) }),
    fc.record({ case: fc.constantFrom('requestBody' as const, 'responseBody' as const), value: fc.record({ body: fc.uint8Array({ maxLength: 64 }), endOfStream: fc.boolean(), endOfStreamWithoutMessage: fc.boolean() }) }),
    fc.record({ case: fc.constantFrom('requestTrailers' as const, 'responseTrailers' as const), value: fc.record({ trailers: fc.record({ headers: fc.array(headerEntry, { maxLength: 2 }) }) }) }),
    fc.constant({ case: undefined }),
  );
  const message = fc.record({
    request,
    attributes: fc.dictionary(fc.constantFrom('envoy.filters.http.ext_proc', 'other.filter'), struct, { maxKeys: 2 }),
    observabilityMode: fc.boolean(),
    metadataContext: fc.constant({ filterMetadata: { ns: { a: 'b' } } }),
  });

  it('reads every message as the generated decoder does', () => {
    fc.assert(
      fc.property(message, (init) => {
        const typed = init as MessageInitShape<typeof ProcessingRequestSchema>;
        expect(decode(typed)).toEqual(oracle(typed));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('throws an Error on bytes that are no message, and never loops', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeProcessingRequest(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

/** What the router sends Envoy, decoded with the same generated codecs Envoy's protos define. */
import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ProcessingMode_BodySendMode } from '../../../src/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.js';
import { ProcessingResponseSchema } from '../../../src/gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { encodeOutcome } from '../../../src/extproc/translate.js';
import { PASS } from '../../../src/pipeline/types.js';

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

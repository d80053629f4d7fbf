/**
 * Property tests of every reader of header values a client or a provider sends: arbitrary names and
 * values never throw, and what comes out is in range. Seeded and bounded, so every run is the same.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { presentedKey } from '../../../src/auth/keys.js';
import { decodeProcessingRequest } from '../../../src/extproc/decode.js';
import { ProcessingRequestSchema } from '../../gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { RATE_LIMIT_HEADERS as ANTHROPIC_HEADERS, rateLimitsOf as anthropicRateLimitsOf } from '../../../src/providers/anthropic/rate-limit-headers.js';
import { RATE_LIMIT_HEADERS as OPENAI_HEADERS, parseDuration, rateLimitsOf } from '../../../src/providers/openai/rate-limit-headers.js';
import { MAX_RETRY_AFTER_MS, retryAtMs } from '../../../src/providers/retry-after.js';

const SEED = 1011;
const NOW_MS = 1_750_000_000_000;

/** Header values as they come: any text, and the near-misses a parser must tell apart. */
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^ ?\d{0,400}(\.\d{0,20})? ?$/),
  fc.stringMatching(/^(\d{1,400}(\.\d{1,5})?(ms|s|m|h)){0,4}$/),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.constantFrom('', ' ', '-1', '1e999', 'Infinity', 'NaN', '0x10', '1e3', '+5', '9'.repeat(400), 'Bearer ', 'bearer  ', 'BEARER x', '1s1', 's', '.5s'),
);
const optional = fc.option(value, { nil: undefined });
/** The headers among `entries` that were sent. */
const sent = (entries: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => e[1] !== undefined));

/** Header names, the keys of a plain object's prototype among them. */
const name = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'toString', 'authorization', 'x-api-key'));

describe('decodeProcessingRequest (Envoy header map → plain values)', () => {
  it('keeps the first value of every name, prototype keys included, decoding raw bytes as UTF-8', () => {
    const entry = fc.record({ key: name, value: fc.string({ maxLength: 20 }), raw: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), (entries) => {
        const headerMap = { headers: entries.map((e) => ({ key: e.key, value: e.value, rawValue: e.raw ?? new Uint8Array() })) };
        const message = create(ProcessingRequestSchema, { request: { case: 'requestHeaders', value: { headers: headerMap } } });
        const decoded = decodeProcessingRequest(Buffer.from(toBinary(ProcessingRequestSchema, message)));
        if (decoded.phase !== 'requestHeaders') throw new Error(`decoded as ${decoded.phase}`);
        const headers = decoded.headers;
        const expected = new Map<string, string>();
        for (const e of entries) if (!expected.has(e.key)) expected.set(e.key, e.raw !== undefined && e.raw.length > 0 ? Buffer.from(e.raw).toString('utf8') : e.value);
        expect(Object.keys(headers).sort()).toEqual([...expected.keys()].sort());
        for (const [k, v] of expected) expect(Object.getOwnPropertyDescriptor(headers, k)?.value).toBe(v);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});

describe('retryAtMs (a provider\'s Retry-After and retry-after-ms)', () => {
  it('is null or a finite deadline between now and the longest wait the router honours', () => {
    fc.assert(
      fc.property(optional, optional, (retryAfter, retryAfterMs) => {
        const at = retryAtMs(sent({ 'retry-after': retryAfter, 'retry-after-ms': retryAfterMs }), NOW_MS);
        if (at === null) return;
        expect(Number.isFinite(at)).toBe(true);
        expect(at).toBeGreaterThanOrEqual(NOW_MS);
        expect(at).toBeLessThanOrEqual(NOW_MS + MAX_RETRY_AFTER_MS);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it.each([
    [{ 'retry-after': '1.5' }, NOW_MS + 1500],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, NOW_MS + 250],
    [{ 'retry-after': '9'.repeat(400) }, NOW_MS + MAX_RETRY_AFTER_MS],
    [{ 'retry-after': new Date(NOW_MS + 5000).toUTCString() }, NOW_MS + 5000],
    [{ 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' }, NOW_MS + MAX_RETRY_AFTER_MS],
    [{ 'retry-after': 'Thu, 01 Jan 1970 00:00:00 GMT' }, NOW_MS],
    [{ 'retry-after': 'soon' }, null],
  ])('%o → %s', (headers, expected) => {
    expect(retryAtMs(headers, NOW_MS)).toBe(expected);
  });
});

describe("rateLimitsOf (a provider's x-ratelimit-* or anthropic-ratelimit-* headers)", () => {
  // RFC 3339 times near and far, with and without fractions and offsets, for Anthropic's resets.
  const rfc3339 = fc.date({ min: new Date(-6.2e13), max: new Date(2.5e14), noInvalidDate: true }).chain((d) =>
    fc.constantFrom(d.toISOString(), d.toISOString().replace(/\.\d+Z$/, 'Z'), d.toISOString().replace('Z', '+05:30')),
  );
  const field = fc.option(fc.oneof(value, rfc3339), { nil: undefined });
  it.each([
    ['OpenAI', OPENAI_HEADERS, rateLimitsOf],
    ['Anthropic', ANTHROPIC_HEADERS, anthropicRateLimitsOf],
  ] as const)('%s: null or windows with a finite positive limit, 0 ≤ remaining ≤ limit, and a reset within the hour from now on', (_name, fields, read) => {
    fc.assert(
      fc.property(fc.tuple(...fields.map(() => field)), (values) => {
        const limits = read(sent(Object.fromEntries(fields.map((f, i) => [f, values[i]]))), NOW_MS);
        if (limits === null) return;
        for (const w of [limits.requests, limits.tokens]) {
          if (w === null) continue;
          expect(Number.isFinite(w.limit) && w.limit > 0).toBe(true);
          expect(w.remaining >= 0 && w.remaining <= w.limit).toBe(true);
          expect(w.resetAtMs >= NOW_MS && w.resetAtMs <= NOW_MS + MAX_RETRY_AFTER_MS).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('parseDuration: null or a finite number of milliseconds, never negative', () => {
    fc.assert(
      fc.property(value, (text) => {
        const ms = parseDuration(text);
        if (ms !== null) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

describe('presentedKey (the client\'s Authorization or x-api-key)', () => {
  it('is null or a non-empty key without surrounding spaces, from Authorization first', () => {
    fc.assert(
      fc.property(optional, optional, (authorization, apiKey) => {
        const key = presentedKey(sent({ authorization, 'x-api-key': apiKey }));
        if (key === null) {
          expect(apiKey ?? '').toBe('');
          return;
        }
        expect(key.length).toBeGreaterThan(0);
        const bearer = authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : '';
        expect(key).toBe(bearer !== '' ? bearer : apiKey);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

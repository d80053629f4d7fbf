/**
 * Property tests of request validation: whatever bytes a client sends, the router answers with a
 * validated request or a 4xx `RouterError` in OpenAI's format — never another exception (a 500).
 * Seeded and bounded, so every run is the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../../src/errors.js';
import { parseChatRequest, parseEmbeddingsRequest, type ApiRequest } from '../../../src/pipeline/api-request.js';
import { readBody } from '../../../src/pipeline/json-body.js';

const SEED = 2024;

/** The whole path a body takes: its bytes read (structure checked, text decoded), then validated. */
const fromBytes = (parse: (text: string) => ApiRequest) => (bytes: Buffer) => {
  const text = readBody(bytes);
  // Every body here is small enough to be read in one turn.
  if (typeof text !== 'string') throw new Error('expected a synchronous read');
  return parse(text);
};
const PARSERS = [
  ['chat', fromBytes(parseChatRequest)],
  ['embeddings', fromBytes(parseEmbeddingsRequest)],
] as const;

/** The request, or the error the client gets; fails the property on any other throw. */
function outcome(parse: (bytes: Buffer) => ApiRequest, bytes: Buffer): ApiRequest | RouterError {
  try {
    return parse(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError);
    const e = err as RouterError;
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThan(500);
    expect(JSON.parse(JSON.stringify(e.toJSON()))).toMatchObject({ error: { message: expect.any(String), code: e.code } });
    return e;
  }
}

/** What a request field may hold: sensible values, wrong types and edge cases. */
const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, '', 'gpt-4o', [], {}, [''], [[]], [1, 2], [[1], []], [-1], '__proto__'),
);
/** A field: mostly valid, sometimes anything, sometimes absent. */
const field = <T>(valid: fc.Arbitrary<T>) => fc.option(fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: anyValue }), { nil: undefined, freq: 10 });
const message = fc.oneof(
  { weight: 6, arbitrary: fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool'), content: field(fc.string()) }) },
  { weight: 1, arbitrary: anyValue },
);
const positive = (max: number) => fc.integer({ min: 1, max });
/** Bodies near a valid one: each field valid, invalid or absent. */
const nearValid = fc.record({
  model: field(fc.string({ minLength: 1, maxLength: 12 })),
  messages: field(fc.array(message, { minLength: 1, maxLength: 4 })),
  input: field(fc.oneof(fc.string({ minLength: 1 }), fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }))),
  stream: field(fc.boolean()),
  stream_options: field(fc.record({ include_usage: field(fc.boolean()) })),
  max_tokens: field(positive(5000)),
  max_completion_tokens: field(positive(5000)),
  n: field(positive(10)),
  dimensions: field(positive(4096)),
  disable_fallbacks: field(fc.boolean()),
});

const positiveOrAbsent = (v: unknown) => v === undefined || v === null || (Number.isInteger(v) && (v as number) > 0);

describe.each(PARSERS)('%s request validation', (endpoint, parse) => {
  it('arbitrary bytes: a request or a 4xx error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        outcome(parse, Buffer.from(bytes));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('arbitrary JSON: a request or a 4xx error', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        outcome(parse, Buffer.from(JSON.stringify(value) ?? 'null'));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('bodies near a valid one: an accepted request has the fields the router relies on', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearValid, (body) => {
        const result = outcome(parse, Buffer.from(JSON.stringify(body)));
        if (result instanceof RouterError) return;
        accepted++;
        expect(result.endpoint).toBe(endpoint);
        expect(typeof result.model === 'string' && result.model.length > 0).toBe(true);
        expect(result.model).toBe(body.model);
        expect(result.disableFallbacks).toBe(body.disable_fallbacks === true);
        expect(typeof body.disable_fallbacks === 'boolean' || body.disable_fallbacks == null).toBe(true);
        if (endpoint === 'chat') {
          expect(Array.isArray(body.messages) && body.messages.length > 0).toBe(true);
          expect(result.stream).toBe(body.stream === true);
          expect(result.clientWantsUsage).toBe((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true);
          for (const field of ['max_tokens', 'max_completion_tokens', 'n'] as const) expect(positiveOrAbsent(body[field])).toBe(true);
        } else {
          expect(result.stream).toBe(false);
          expect(positiveOrAbsent(body.dimensions)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 600 },
    );
    // Both sides of the validation were exercised.
    expect(accepted).toBeGreaterThan(30);
    expect(accepted).toBeLessThan(570);
  });

  it('valid bodies with odd bytes around them (BOM-less UTF-8, whitespace, escapes) are accepted', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.constantFrom('', ' ', '\n\t ', '\r\n'), (text, pad) => {
        const body = endpoint === 'chat' ? { model: text, messages: [{ role: 'user', content: text }] } : { model: text, input: text };
        const result = outcome(parse, Buffer.from(`${pad}${JSON.stringify(body)}${pad}`));
        expect(result).not.toBeInstanceOf(RouterError);
        expect((result as ApiRequest).model).toBe(text);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it.each([1, 1000, 20_000])('nesting %i deep, at the top or inside a field: a request or a 4xx error', (depth) => {
    for (const [open, close] of [
      ['[', ']'],
      ['{"a":', '}'],
    ]) {
      const nested = `${open!.repeat(depth)}1${close!.repeat(depth)}`;
      outcome(parse, Buffer.from(nested));
      outcome(parse, Buffer.from(`{"model":"m","messages":[{"role":"user","content":${nested}}],"input":${nested}}`));
    }
  });
});

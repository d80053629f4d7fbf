/** Request validation of what a body may cost the router: nesting depth and the number of choices. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../../src/errors.js';
import { MAX_CHOICES, MAX_JSON_DEPTH, parseChatRequest, parseEmbeddingsRequest } from '../../../src/pipeline/api-request.js';

const MESSAGES = [{ role: 'user', content: 'hi' }];
const chat = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ model: 'm', messages: MESSAGES, ...fields }));

/** The error parsing gives, or null when the body is accepted. */
function refusal(parse: () => unknown): { code: string; message: string; param: string | null } | null {
  try {
    parse();
    return null;
  } catch (err) {
    if (!(err instanceof RouterError)) throw err;
    return { code: err.code, message: err.message, param: err.param };
  }
}

/** `value` wrapped in `levels` arrays and objects, alternately. */
function nested(levels: number, value: unknown): unknown {
  let v = value;
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

/** Levels of objects and arrays in a parsed JSON value. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('nesting depth', () => {
  it(`a body nested up to ${MAX_JSON_DEPTH} levels is accepted; one level more is a 400 naming the limit`, () => {
    // The body object is level 1 and metadata's value starts at level 2.
    expect(refusal(() => parseChatRequest(chat({ metadata: nested(MAX_JSON_DEPTH - 1, 1) })))).toBeNull();
    expect(refusal(() => parseChatRequest(chat({ metadata: nested(MAX_JSON_DEPTH, 1) })))).toEqual({
      code: 'invalid_request',
      message: `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`,
      param: null,
    });
  });

  it('100,000 levels (what overflowed the stack when the body was rewritten): refused, on embeddings too', () => {
    const deep = Buffer.from(`{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(refusal(() => parseChatRequest(deep))?.code).toBe('invalid_request');
    const deepInput = Buffer.from(`{"model":"m","input":"a","x":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`);
    expect(refusal(() => parseEmbeddingsRequest(deepInput))?.code).toBe('invalid_request');
  });

  it('brackets, quotes and backslashes inside strings do not count', () => {
    const text = `${'['.repeat(500)} \\" {{{ \\\\" ${'{'.repeat(500)}`;
    expect(refusal(() => parseChatRequest(chat({ messages: [{ role: 'user', content: text }], metadata: { [text]: text } })))).toBeNull();
  });

  it('property: accepted exactly when the parsed body is no deeper than the limit', () => {
    // Values of any shape and strings of any characters, wrapped so the total lands around the limit.
    const arbitrary = fc.record({ value: fc.jsonValue({ maxDepth: 4 }), levels: fc.integer({ min: MAX_JSON_DEPTH - 8, max: MAX_JSON_DEPTH + 2 }) });
    fc.assert(
      fc.property(arbitrary, ({ value, levels }) => {
        const metadata = nested(levels, value);
        const bytes = chat({ metadata });
        const accepted = refusal(() => parseChatRequest(bytes)) === null;
        expect(accepted).toBe(depthOf(JSON.parse(bytes.toString('utf8'))) <= MAX_JSON_DEPTH);
      }),
      { numRuns: 300 },
    );
  });
});

describe('n', () => {
  it(`1 to ${MAX_CHOICES} choices are accepted; more is OpenAI's 400 on 'n'`, () => {
    expect(refusal(() => parseChatRequest(chat({ n: MAX_CHOICES })))).toBeNull();
    expect(refusal(() => parseChatRequest(chat({ n: MAX_CHOICES + 1 })))).toEqual({
      code: 'invalid_request',
      message: `Invalid 'n': integer above maximum value. Expected a value <= ${MAX_CHOICES}, but got ${MAX_CHOICES + 1} instead.`,
      param: 'n',
    });
    expect(refusal(() => parseChatRequest(chat({ n: 0 })))?.param).toBe('n');
    expect(refusal(() => parseChatRequest(chat({ n: 1.5 })))?.param).toBe('n');
  });
});

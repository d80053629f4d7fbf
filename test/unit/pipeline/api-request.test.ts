/** What a body may cost the router to read and parse (json-body.ts), and the number of choices it may ask for. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../../src/errors.js';
import { MAX_CHOICES, parseChatRequest, parseEmbeddingsRequest } from '../../../src/pipeline/api-request.js';
import { MAX_JSON_DEPTH, MAX_JSON_NAMES, readBody } from '../../../src/pipeline/json-body.js';

const MESSAGES = [{ role: 'user', content: 'hi' }];
const chat = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ model: 'm', messages: MESSAGES, ...fields }));

type Refusal = { code: string; message: string; param: string | null } | null;
const refusalOf = (err: unknown): Refusal => {
  if (!(err instanceof RouterError)) throw err;
  return { code: err.code, message: err.message, param: err.param };
};

/** The error reading and parsing a body of up to 256 KB gives (synchronously), or null when it is accepted. */
function refusal(bytes: Buffer, parse = parseChatRequest): Refusal {
  try {
    parse(readBody(bytes) as string);
    return null;
  } catch (err) {
    return refusalOf(err);
  }
}

/** The same for a body of any size. */
async function eventualRefusal(bytes: Buffer): Promise<Refusal> {
  try {
    parseChatRequest(await readBody(bytes));
    return null;
  } catch (err) {
    return refusalOf(err);
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
    expect(refusal(chat({ metadata: nested(MAX_JSON_DEPTH - 1, 1) }))).toBeNull();
    expect(refusal(chat({ metadata: nested(MAX_JSON_DEPTH, 1) }))).toEqual({
      code: 'invalid_request',
      message: `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`,
      param: null,
    });
  });

  it('100,000 levels (what overflowed the stack when the body was rewritten): refused, on embeddings too', async () => {
    const deep = Buffer.from(`{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect((await eventualRefusal(deep))?.code).toBe('invalid_request');
    const deepInput = Buffer.from(`{"model":"m","input":"a","x":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`);
    expect(refusal(deepInput, parseEmbeddingsRequest)?.code).toBe('invalid_request');
  });

  it('brackets, quotes and backslashes inside strings do not count', () => {
    const text = `${'['.repeat(500)} \\" {{{ \\\\" ${'{'.repeat(500)}`;
    expect(refusal(chat({ messages: [{ role: 'user', content: text }], metadata: { [text]: text } }))).toBeNull();
  });

  it('property: accepted exactly when the parsed body is no deeper than the limit', () => {
    // Values of any shape and strings of any characters, wrapped so the total lands around the limit.
    const arbitrary = fc.record({ value: fc.jsonValue({ maxDepth: 4 }), levels: fc.integer({ min: MAX_JSON_DEPTH - 8, max: MAX_JSON_DEPTH + 2 }) });
    fc.assert(
      fc.property(arbitrary, ({ value, levels }) => {
        const metadata = nested(levels, value);
        const bytes = chat({ metadata });
        const accepted = refusal(bytes) === null;
        expect(accepted).toBe(depthOf(JSON.parse(bytes.toString('utf8'))) <= MAX_JSON_DEPTH);
      }),
      { numRuns: 300 },
    );
  });
});

describe('member names', () => {
  const withNames = (count: number) => chat({ metadata: Array.from({ length: count }, (_, i) => ({ [`k${i}`]: 0 })) });

  it(`${MAX_JSON_NAMES} distinct names are accepted (the body's own included); more are a 400 before parsing`, () => {
    const own = 5; // model, messages, role, content, metadata
    expect(refusal(withNames(MAX_JSON_NAMES - own))).toBeNull();
    expect(refusal(withNames(MAX_JSON_NAMES - own + 1))).toEqual({
      code: 'invalid_request',
      message: `The request body uses more than ${MAX_JSON_NAMES} distinct member names.`,
      param: null,
    });
  });

  it('repeated names are not limited: a conversation of 50,000 messages is accepted', async () => {
    const messages = Array.from({ length: 50_000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'ok' }));
    expect(await eventualRefusal(chat({ messages }))).toBeNull();
  });

  it('a name-like string inside a string value is not a name', async () => {
    const text = Array.from({ length: MAX_JSON_NAMES + 1 }, (_, i) => `"k${i}":0`).join(',');
    expect(await eventualRefusal(chat({ messages: [{ role: 'user', content: text }] }))).toBeNull();
  });
});

describe('readBody', () => {
  it('reads a large body in slices, exactly as at once: characters cut between slices, bad bytes, a byte-order mark', async () => {
    const text = '\uFEFF' + 'aé漢😀'.repeat(200_000);
    const bytes = Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0xff, 0xc3])]);
    const read = readBody(bytes);
    expect(read).toBeInstanceOf(Promise);
    expect(await read).toBe(bytes.toString('utf8'));
  });

  it('checks a large body a slice per turn of the event loop, before decoding it', async () => {
    // 2 MB of structure (not one string, which the scan jumps over whole), then nesting too deep.
    const deep = Buffer.from(`{"model":"m","messages":[],"x":[${'0,'.repeat(1_000_000)}0],"y":${'['.repeat(200)}${']'.repeat(200)}}`);
    // Counts turns of the event loop, not milliseconds: an immediate queued from an immediate runs on the next turn.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await expect(readBody(deep)).rejects.toThrow(`more than ${MAX_JSON_DEPTH} levels`);
    ticking = false;
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});

describe('n', () => {
  it(`1 to ${MAX_CHOICES} choices are accepted; more is OpenAI's 400 on 'n'`, () => {
    expect(refusal(chat({ n: MAX_CHOICES }))).toBeNull();
    expect(refusal(chat({ n: MAX_CHOICES + 1 }))).toEqual({
      code: 'invalid_request',
      message: `Invalid 'n': integer above maximum value. Expected a value <= ${MAX_CHOICES}, but got ${MAX_CHOICES + 1} instead.`,
      param: 'n',
    });
    expect(refusal(chat({ n: 0 }))?.param).toBe('n');
    expect(refusal(chat({ n: 1.5 }))?.param).toBe('n');
  });
});

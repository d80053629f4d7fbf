import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spliced, type MemberEdits } from '../../../src/json/splice.js';

const edit = (text: string, edits: MemberEdits) => spliced(Buffer.from(text), edits)?.toString('utf8') ?? null;

describe('spliced: only what changes changes', () => {
  it('replaces a value and keeps every other byte as written', () => {
    const text = '{ "model" : "claude",\n  "messages":[{"role":"user","content":"h\\u00e9llo"}],  "max_tokens":10 }\n';
    expect(edit(text, { set: { model: '"claude-sonnet-4-5"' } })).toBe(text.replace('"claude"', '"claude-sonnet-4-5"'));
  });

  it('changes nothing when the value is already the one set (null: the bytes go as they came)', () => {
    expect(edit('{"model":"a","n":1}', { set: { model: '"a"' } })).toBeNull();
    expect(edit('{"model":"a"}', { remove: ['tags'] })).toBeNull();
    expect(edit('{"metadata":{"user_id":"u"}}', { set: { metadata: { remove: ['tags'], dropWhenEmpty: true } } })).toBeNull();
  });

  it('removes members with their commas, first, middle and last', () => {
    expect(edit('{"tags":["a"], "model":"m", "x":1}', { remove: ['tags'] })).toBe('{"model":"m", "x":1}');
    expect(edit('{"model":"m", "tags":["a"], "x":1}', { remove: ['tags'] })).toBe('{"model":"m", "x":1}');
    expect(edit('{"model":"m", "x":1, "tags":["a"] }', { remove: ['tags'] })).toBe('{"model":"m", "x":1 }');
    expect(edit('{"model":"m", "tags":["a"], "disable_fallbacks":true}', { remove: ['tags', 'disable_fallbacks'] })).toBe('{"model":"m"}');
    expect(edit('{ "tags":[] }', { remove: ['tags'] })).toBe('{  }');
  });

  it('edits a member object, and drops it when left empty if asked', () => {
    const dropTags: MemberEdits = { set: { metadata: { remove: ['tags'], dropWhenEmpty: true } } };
    expect(edit('{"model":"m","metadata":{"tags":["a"],"user_id":"u"}}', dropTags)).toBe('{"model":"m","metadata":{"user_id":"u"}}');
    expect(edit('{"model":"m","metadata":{"tags":["a"]}}', dropTags)).toBe('{"model":"m"}');
    expect(edit('{"metadata":{"tags":["a"]},"model":"m"}', dropTags)).toBe('{"model":"m"}');
  });

  it('adds a member, or a member of a member object, that is missing', () => {
    const usage: MemberEdits = { set: { stream_options: { set: { include_usage: 'true' } } } };
    expect(edit('{"model":"m","stream":true}', usage)).toBe('{"model":"m","stream":true,"stream_options":{"include_usage":true}}');
    expect(edit('{"stream_options":null}', usage)).toBe('{"stream_options":{"include_usage":true}}');
    expect(edit('{"stream_options":{}}', usage)).toBe('{"stream_options":{"include_usage":true}}');
    expect(edit('{"stream_options":{"include_usage":false}}', usage)).toBe('{"stream_options":{"include_usage":true}}');
    expect(edit('{}', { set: { model: '"m"' } })).toBe('{"model":"m"}');
  });

  it('reads names as JSON.parse does and edits every occurrence of a repeated one', () => {
    expect(edit('{"mod\\u0065l":"cheap","model":"x"}', { set: { model: '"m"' } })).toBe('{"mod\\u0065l":"m","model":"m"}');
    expect(edit('{"tags":1,"a":2,"tags":3}', { remove: ['tags'] })).toBe('{"a":2}');
  });

  it('skips values holding brackets, quotes and escapes inside strings', () => {
    const text = '{"a":"}]\\"{","b":[{"c":"]"},[1,{"d":null}]],"model":"x","e":-1.5e3,"f":false}';
    expect(JSON.parse(edit(text, { set: { model: '"y"' }, remove: ['f'] })!)).toEqual({ ...JSON.parse(text), model: 'y', f: undefined });
  });
});

describe('spliced: the same object as editing the parsed body', () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const names = fc.constantFrom('model', 'tags', 'metadata', 'stream_options', 'x', 'messages');
  const body = fc.dictionary(names, fc.oneof(json, fc.dictionary(fc.constantFrom('tags', 'user_id', 'include_usage'), json)));
  const blank = fc.constantFrom('', ' ', '\n  ', '\t');
  /** JSON text with blanks between every token, as clients may write it. */
  const spaced = (v: unknown, b: string): string =>
    Array.isArray(v)
      ? `[${b}${v.map((x) => spaced(x, b)).join(`${b},${b}`)}${b}]`
      : typeof v === 'object' && v !== null
        ? `{${b}${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}${b}:${b}${spaced(x, b)}`).join(`${b},${b}`)}${b}}`
        : JSON.stringify(v);

  it('holds for any body, spacing and edits', () => {
    fc.assert(
      fc.property(body, blank, fc.string(), fc.boolean(), fc.boolean(), (generated, b, model, removeTags, usage) => {
        // As JSON text has it (no -0).
        const obj = JSON.parse(JSON.stringify(generated)) as Record<string, unknown>;
        const edits: MemberEdits = {
          set: { model: JSON.stringify(model), metadata: { remove: ['tags'], dropWhenEmpty: true }, ...(usage ? { stream_options: { set: { include_usage: 'true' } } } : {}) },
          remove: removeTags ? ['tags'] : [],
        };
        const expected: Record<string, unknown> = { ...obj, model };
        if (removeTags) delete expected.tags;
        const metadata = obj.metadata;
        if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) && 'tags' in metadata) {
          const { tags: _tags, ...rest } = metadata as Record<string, unknown>;
          if (Object.keys(rest).length === 0) delete expected.metadata;
          else expected.metadata = rest;
        }
        if (usage) {
          const so = obj.stream_options;
          expected.stream_options = typeof so === 'object' && so !== null && !Array.isArray(so) ? { ...so, include_usage: true } : { include_usage: true };
        }
        const text = spaced(obj, b);
        const out = spliced(Buffer.from(text), edits);
        expect(JSON.parse(out === null ? text : out.toString('utf8'))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

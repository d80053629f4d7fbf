/**
 * The o200k token counter gives tiktoken's count: compared, text by text, with gpt-tokenizer's
 * `countTokens` (the oracle: tests and the bench load its code, the router never does) on corpora
 * of every kind of text a prompt holds and on generated text; and its merge order and rank-file
 * checks on a vocabulary small enough to follow.
 *
 * Text with a byte-order mark (U+FEFF) is left out of the comparisons: gpt-tokenizer decodes the
 * byte strings it looks up with a TextDecoder, which drops a leading BOM, so it never finds o200k's
 * nine tokens that start with one and misreads any pair starting with it as the rest of the pair.
 */
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import { readO200kRanks } from '../../../src/providers/openai/o200k-ranks.js';
import { TokenCounter } from '../../../src/routing/bpe.js';
import { RankTable, type RankFile } from '../../../src/routing/bpe-ranks.js';

const AS_TEXT = { disallowedSpecial: new Set<string>() };
const BOM = '\ufeff';
const withoutBom = (text: string) => !text.includes(BOM);
let counter: TokenCounter;
/** Turns of the event loop while the tables were built. */
let turns = 0;
beforeAll(async () => {
  let building = true;
  const tick = () => {
    if (!building) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  counter = new TokenCounter(await RankTable.build(readO200kRanks));
  building = false;
});

/** Compares each text's count with the oracle's, naming the first that differs. */
function expectSameCounts(texts: readonly string[]): void {
  for (const text of texts) expect({ text, count: counter.count(text) }).toEqual({ text, count: countTokens(text, AS_TEXT) });
}

const PROSE = [
  "The quick brown fox jumps over the lazy dog. It's a pangram; we've used it since the 1880s, haven't we?",
  'Über den Wolken muss die Freiheit wohl grenzenlos sein. Straßenbahnhaltestelle, Donaudampfschifffahrtsgesellschaft.',
  "L'été dernier, nous sommes allés à Noël chez l'oncle d'Hélène ; « quelle élégance ! » s'écria-t-elle.",
  '¿Dónde está la biblioteca? Mañana será otro día, señor Muñoz. ¡Olé!',
  'Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.',
  'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.',
  'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق.',
  'דג סקרן שט בים מאוכזב ולפתע מצא חברה. שלום עולם!',
  'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।',
  '我能吞下玻璃而不伤身体。机器学习模型的路由器需要精确地计算令牌数量，以免超出上下文窗口。',
  'いろはにほへと ちりぬるを わかよたれそ つねならむ。東京都の人口は約千四百万人です。カタカナ、ひらがな。',
  '다람쥐 헌 쳇바퀴에 타고파. 대한민국의 수도는 서울입니다.',
  'เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน',
  'Tiếng Việt có dấu: Đường phố Hà Nội rất đông đúc vào giờ cao điểm.',
  "I'M SURE YOU'RE RIGHT, THEY'LL SAY WE'D WON'T. i'm sure. I'M sure. It'S oK. 'ſ 'Ll 'rE 'vE",
  'Combining marks: e\u0301te\u0301, n\u0303, a\u0308\u0304, Z\u0351\u0362a\u0327l\u0360g\u0335o\u0336, ǅungla ǈ ǋ (title case).',
];

const WHITESPACE = [
  'a  b   c    d\t\te\t \tf',
  'line one\nline two\r\nline three\r\r\n\n\n  indented\n\t\ttabbed\n   \n',
  '      trailing spaces      ',
  '\n\n\n\n\n\n\n\n\n\nword',
  'nbsp\u00a0\u00a0here, ideographic\u3000\u3000space, thin\u2009space, nel\u0085here, line\u2028sep\u2029para',
  ' '.repeat(300),
  '\t'.repeat(100) + 'x' + '\r\n'.repeat(50),
  ' \n \n \n',
];

const DIGITS_AND_EMOJI = [
  '1234567890 12 123 1234 12345 3.14159265358979 -42 1e10 0x1F 1,000,000 ٣٤٥ ४५६ ²³ ½ Ⅻ',
  '9'.repeat(1000),
  'IDs: 550e8400-e29b-41d4-a716-446655440000, 2026-11-22T10:15:30.123Z, +1 (555) 010-9999',
  '😀😃😄😁 👍🏽👍🏿 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ ☺︎ 🏳️‍🌈 🧑🏻‍💻 text😀text',
  '😀'.repeat(200),
  'emoji at the end 🎉',
];

const SPECIAL_AND_ODD = [
  '<|endoftext|> say <|endoftext|><|fim_prefix|><|im_start|>system<|im_sep|>',
  '',
  ' ',
  "'",
  "'s",
  'a',
  'lone \ud800 high, lone \udfff low, reversed \udc00\ud800, pair \ud83d\ude00, end \ud83d',
  '\ud800',
  '\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f',
  'a'.repeat(5000),
  'ab'.repeat(2000),
  '.'.repeat(700) + '!?'.repeat(300),
];

describe('TokenCounter: counts as gpt-tokenizer (tiktoken) does', () => {
  it('prose in many scripts, with contractions, marks and title case', () => expectSameCounts(PROSE));
  it('whitespace runs of every kind', () => expectSameCounts(WHITESPACE));
  it('digits, identifiers and emoji sequences', () => expectSameCounts(DIGITS_AND_EMOJI));
  it('special-token text, control characters, lone surrogates, empty text and long runs', () => expectSameCounts(SPECIAL_AND_ODD));

  it("code, Markdown and JSON (the project's own files)", async () => {
    const files = ['README.md', 'docs/requests.md', 'src/routing/bpe.ts', 'src/config/schema.ts', 'envoy/envoy.yaml', 'docs/decisions.md'];
    const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    const lock = await readFile('package-lock.json', 'utf8');
    expectSameCounts([...texts, lock, JSON.stringify(JSON.parse(lock))]);
  });

  it('property: text made of the characters the pre-split tells apart', () => {
    const units = [...'aZé漢ア가ǅʰ\u0301\u0903٣½0 \t\n\r\u00a0\u3000\u0085\'’.,!?-_/\\"{}[]<|>😀👍🏽', '\ud800', '\udc00', "'s", "'LL", "'Re"];
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...units), maxLength: 300 }), (text) => {
        expect(counter.count(text)).toBe(countTokens(text, AS_TEXT));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: words, numbers and separators in random order', () => {
    const word = fc.oneof(
      fc.constantFrom('the', 'The', 'THE', 'tokenizer', 'Tokenizer', "don't", "DON'T", 'naïve', 'straße', 'мир', 'Ελλάδα', '東京', 'ひらがな', 'ok'),
      fc.stringMatching(/^[0-9]{1,9}$/),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
    );
    const separator = fc.constantFrom(' ', '  ', ', ', '. ', '\n', '\r\n', '\n\n', '\t', '', '/', '-', ' (', ') ', '"', ':');
    fc.assert(
      fc.property(fc.array(fc.tuple(word, separator), { maxLength: 60 }), (parts) => {
        const text = parts.map(([w, s]) => w + s).join('').replaceAll(BOM, '');
        expect(counter.count(text)).toBe(countTokens(text, AS_TEXT));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: random Unicode, any code point or any UTF-16 unit', () => {
    const codePoints = fc.string({ unit: 'binary', maxLength: 200 });
    const utf16Units = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 200 });
    fc.assert(
      fc.property(fc.oneof(codePoints, utf16Units).filter(withoutBom), (text) => {
        expect(counter.count(text)).toBe(countTokens(text, AS_TEXT));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: long runs without a break, merged as one piece', () => {
    const run = fc.string({ unit: fc.constantFrom(...'abcxyzQ0123!?.é漢😀'), minLength: 100, maxLength: 3000 });
    fc.assert(
      fc.property(run, (text) => {
        expect(counter.count(text)).toBe(countTokens(text, AS_TEXT));
      }),
      { numRuns: 150 },
    );
  });

  it("counts a byte-order mark with o200k's tokens for it, as tiktoken does", () => {
    // "\ufeffusing" is one token (C# files start so), like "using": the same count either way.
    expect(counter.count(`${BOM}using System;`)).toBe(countTokens('using System;', AS_TEXT));
    expect(counter.count(BOM)).toBe(1);
    expect(counter.count(BOM + BOM)).toBe(1);
  });
});

describe('RankTable', () => {
  /** The lines of a rank file: "<base64> <rank>". */
  const lines = (tokens: ReadonlyArray<string | number[]>) => tokens.map((t, rank) => `${Buffer.from(typeof t === 'string' ? Buffer.from(t, 'latin1') : t).toString('base64')} ${rank}`);
  /** A rank file read `chunkBytes` at a time. */
  const inChunks =
    (text: string, chunkBytes = 64): RankFile =>
    async function* () {
      const file = Buffer.from(text, 'latin1');
      for (let i = 0; i < file.length; i += chunkBytes) yield file.subarray(i, i + chunkBytes);
    };
  const bytes = Array.from({ length: 256 }, (_, b) => [b]);
  const build = (tokens: ReadonlyArray<string | number[]>, chunkBytes?: number) => RankTable.build(inChunks(lines(tokens).join('\n') + '\n', chunkBytes));
  // "ab" outranks "bc": "abcz" → ab|c|z, never a|bcz; "pppq" → pp|p|q, never p|ppq (leftmost first).
  const SMALL = [...bytes, 'ab', 'bc', 'pp', 'abcd', 'ppq', 'bcz'];

  it('merges the lowest-ranked pair first, the leftmost on a tie, and stops when no pair is a token', async () => {
    const small = new TokenCounter(await build(SMALL));
    expect(small.count('abc')).toBe(2);
    expect(small.count('abcz')).toBe(3);
    expect(small.count('pppq')).toBe(3);
    expect(small.count('pppp')).toBe(2);
    expect(small.count('xyz')).toBe(3);
    // "abcd" is a token, but merging reaches ab|c|d and stops; only the whole piece finds it.
    expect(small.count('abcd')).toBe(1);
  });

  it('reads lines cut anywhere between chunks, and a last line without its newline', async () => {
    const whole = new TokenCounter(await build(SMALL, 1 << 20));
    for (const table of [await build(SMALL, 1), await build(SMALL, 7), await RankTable.build(inChunks(lines(SMALL).join('\n'), 5))]) {
      const counter = new TokenCounter(table);
      for (const text of ['abc', 'abcz', 'pppq', 'abcd', 'ppq', 'bcz']) expect(counter.count(text)).toBe(whole.count(text));
    }
  });

  it('refuses a rank file out of order, malformed, or without every single byte', async () => {
    const file = (edit: (ls: string[]) => void) => {
      const ls = lines(SMALL);
      edit(ls);
      return RankTable.build(inChunks(ls.join('\n') + '\n'));
    };
    await expect(file((ls) => (ls[10] = 'Cg== 11'))).rejects.toThrow('line 11 is not');
    await expect(file((ls) => (ls[10] = 'C!== 10'))).rejects.toThrow('line 11 is not');
    await expect(file((ls) => (ls[10] = 'Cg== 1x'))).rejects.toThrow('line 11 is not');
    await expect(file((ls) => (ls[10] = 'Cg=='))).rejects.toThrow('line 11 is not');
    await expect(build(bytes.slice(0, 255))).rejects.toThrow('fewer than the 256');
    await expect(build([...bytes.slice(1), [0, 0]])).rejects.toThrow('byte 0 is not a token');
  });

  it("builds o200k's 199,998 tokens over many turns of the event loop (a chunk of the file each)", () => {
    expect(turns).toBeGreaterThanOrEqual(100);
  });
});

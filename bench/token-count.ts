/**
 * npm run bench -- --token-count [--out DIR]
 *
 * What reading one request's body and counting its prompt cost the event loop, for the texts and
 * shapes a client can choose (the router's hardening against one request stalling it):
 * - counting 16 KB of each kind of text whole and in segments (as the router does), with the
 *   segments' over-count; 64 KB in segments, to show the cost is linear, against gpt-tokenizer's
 *   counter over the same segments (what the router ran before its own, routing/bpe.ts);
 * - a 4 MB prompt of random CJK characters without a space, counted through `TokenCounting` with
 *   the default budget: how long it took and the longest the event loop waited meanwhile;
 * - a 4 MB body per shape: decoded at once, read in slices (structure checked, text decoded) with
 *   the longest wait of the event loop meanwhile, and JSON.parse.
 * Times are one run's (median of 3 where cheap), on whatever machine runs it: compare rows, not runs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { clearMergeCache, countTokens as gptTokenizerCount, setMergeCacheSize } from 'gpt-tokenizer/encoding/o200k_base';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { MAX_JSON_NAMES, readBody } from '../src/pipeline/json-body.js';
import { TokenCounting } from '../src/pipeline/token-counting.js';
import { readO200kRanks } from '../src/providers/openai/o200k-ranks.js';
import { TokenCounter } from '../src/routing/bpe.js';
import { RankTable } from '../src/routing/bpe-ranks.js';
import { loadTokenizer, PromptTokenCounter, promptTokensBound, segmentEnd, type PromptText } from '../src/routing/tokens.js';
import { runAsEntryPoint, writeResults } from './entry.js';

const AS_TEXT = { disallowedSpecial: new Set<string>() };
const BODY_BYTES = 4 * 1024 * 1024;

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const randomRun = (chars: number, alphabet: string) => {
  const a = [...alphabet];
  let s = '';
  while (s.length < chars) s += a[Math.floor(random() * a.length)];
  return s;
};
const cjk = (chars: number) => Array.from({ length: chars }, () => String.fromCharCode(0x4e00 + Math.floor(random() * 0x5000))).join('');
const promptOf = (text: string): PromptText => ({ parts: [text], bytes: Buffer.byteLength(text, 'utf8'), messages: 1, images: 0, tokenIds: 0 });

function timed<T>(work: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = work();
  return { ms: performance.now() - start, value };
}

function segmented(text: string): number {
  const counter = new PromptTokenCounter({ ...promptOf(text), messages: 0 });
  while (counter.step());
  return counter.tokens();
}

/** `count` over the segments `PromptTokenCounter` cuts `text` into. */
function inSegments(text: string, count: (segment: string) => number): number {
  let tokens = 0;
  for (let start = 0; start < text.length; ) {
    const end = segmentEnd(text, start);
    tokens += count(text.slice(start, end));
    start = end;
  }
  return tokens;
}

/**
 * The median ms of 5 counts of `text` in segments with our counter and with gpt-tokenizer's as the
 * router ran it (a copy of each segment, 8,192 cached merges), taking turns so the machine's drift
 * falls on both. Each count starts with empty caches, as a prompt unlike the last would.
 */
function againstGptTokenizer(text: string, ranks: RankTable): { ms: number; gptTokenizerMs: number } {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const counter = new TokenCounter(ranks);
    ours.push(timed(() => inSegments(text, (s) => counter.count(s))).ms);
    clearMergeCache();
    theirs.push(timed(() => inSegments(text, (s) => gptTokenizerCount(Buffer.from(s, 'utf8').toString('utf8'), AS_TEXT))).ms);
  }
  const median = (times: number[]) => times.sort((a, b) => a - b)[2]!;
  return { ms: median(ours), gptTokenizerMs: median(theirs) };
}

async function texts(): Promise<Array<[string, string]>> {
  const lock = JSON.stringify(JSON.parse(await readFile(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')));
  return [
    ['prose (README.md)', await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')],
    ['code (exchange.ts)', await readFile(join(PROJECT_ROOT, 'src', 'pipeline', 'exchange.ts'), 'utf8')],
    ['minified JSON', lock],
    ['digits run', randomRun(70_000, '0123456789')],
    ["'a' run", 'a'.repeat(70_000)],
    ['random letters run', randomRun(70_000, 'abcdefghijklmnopqrstuvwxyz')],
    ['base64 run', randomRun(70_000, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')],
    ['random CJK run', cjk(24_000)],
  ];
}

/** Slices a string to about `bytes` of UTF-8. */
const sized = (text: string, bytes: number) => text.slice(0, Math.floor((text.length * bytes) / Buffer.byteLength(text, 'utf8')));

async function countRows(ranks: RankTable): Promise<string[]> {
  const rows = [
    '| text | whole 16 KB ms | segments 16 KB ms | over-count | segments 64 KB ms | µs/byte (64 KB) | gpt-tokenizer, segments 64 KB ms | time vs gpt-tokenizer |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, text] of await texts()) {
    const small = sized(text, 16 * 1024);
    const large = sized(text, 64 * 1024);
    const whole = timed(() => new TokenCounter(ranks).count(small));
    const seg = timed(() => segmented(small));
    const big = againstGptTokenizer(large, ranks);
    const over = ((seg.value / whole.value - 1) * 100).toFixed(2);
    const bytes = Buffer.byteLength(large, 'utf8');
    rows.push(
      `| ${name} | ${whole.ms.toFixed(1)} | ${seg.ms.toFixed(1)} | ${over} % | ${big.ms.toFixed(1)} | ${((big.ms * 1000) / bytes).toFixed(2)} | ${big.gptTokenizerMs.toFixed(1)} | ${(big.ms / big.gptTokenizerMs).toFixed(2)} |`,
    );
  }
  return rows;
}

async function budgetRows(): Promise<string[]> {
  const prompt = promptOf(cjk(Math.floor(BODY_BYTES / 3)));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = performance.now();
  const tokens = await new TokenCounting().count(prompt, 250);
  const ms = performance.now() - start;
  delay.disable();
  return [
    `4 MB prompt of random CJK characters, no space, default budget (250 ms): counted in ${ms.toFixed(0)} ms, ` +
      `${tokens} tokens against a bound of ${promptTokensBound(prompt)}; the event loop waited at most ${(delay.max / 1e6).toFixed(1)} ms (p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms).`,
  ];
}

/** Runs `work`, noting the longest the event loop waited meanwhile. */
async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ ms: number; maxDelayMs: number; value: T }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = performance.now();
  const value = await work();
  const ms = performance.now() - start;
  delay.disable();
  return { ms, maxDelayMs: delay.max / 1e6, value };
}

async function bodyRows(): Promise<string[]> {
  const body = (metadata: string, content = 'hi') => Buffer.from(`{"model":"m","messages":[{"role":"user","content":${JSON.stringify(content)}}],"metadata":${metadata}}`);
  const fill = (unit: string, bytes: number) => unit.repeat(Math.floor(bytes / unit.length));
  const rows = ['| 4 MB body | decoded at once ms | read in slices ms | longest loop wait ms | JSON.parse ms |', '|---|---|---|---|---|'];
  const shapes: Array<[string, Buffer]> = [
    ['one CJK string', body('{}', cjk(Math.floor((BODY_BYTES - 200) / 3)))],
    ['numbers `[0,0,…]`', body(`[${fill('0,', BODY_BYTES - 200)}0]`)],
    ['a conversation (`{"role":"user","content":"a"}` × 140k)', Buffer.from(`{"model":"m","messages":[${fill('{"role":"user","content":"a"},', BODY_BYTES - 100)}{"role":"user","content":"a"}]}`)],
    [`${MAX_JSON_NAMES} distinct names (the limit), each in its own object`, body(`[${Array.from({ length: MAX_JSON_NAMES - 5 }, (_, i) => `{"k${i}":0}`).join(',')}]`)],
  ];
  for (const [name, bytes] of shapes) {
    const atOnce = timed(() => bytes.toString('utf8'));
    const read = await withLoopDelay(async () => readBody(bytes));
    const parse = timed(() => JSON.parse(read.value) as unknown);
    rows.push(`| ${name} | ${atOnce.ms.toFixed(1)} | ${read.ms.toFixed(1)} | ${read.maxDelayMs.toFixed(1)} | ${parse.ms.toFixed(1)} |`);
  }
  const names = 200_000;
  const distinct = Buffer.from(`[${Array.from({ length: names }, (_, i) => `{"d${i}":0}`).join(',')}]`);
  const refused = await withLoopDelay(async () => Promise.resolve(readBody(distinct)).then(() => 'read', () => 'refused'));
  rows.push(
    '',
    `${names} distinct names, each in its own object (${(distinct.length / 1e6).toFixed(1)} MB): JSON.parse ${timed(() => JSON.parse(distinct.toString('utf8')) as unknown).ms.toFixed(0)} ms; ` +
      `readBody ${refused.value} it in ${refused.ms.toFixed(0)} ms, the loop waiting at most ${refused.maxDelayMs.toFixed(1)} ms.`,
  );
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'token-count': { type: 'boolean' } } });
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'token-count');
  await loadTokenizer();
  const ranks = await RankTable.build(readO200kRanks);
  setMergeCacheSize(8192);
  // compile before timing
  for (const warm of [await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8'), cjk(4000)]) {
    segmented(warm);
    againstGptTokenizer(warm, ranks);
  }
  const table = [
    `Prompt counting and body reading, node ${process.version}.`,
    '',
    ...(await countRows(ranks)),
    '',
    ...(await budgetRows()),
    '',
    ...(await bodyRows()),
  ].join('\n');
  await writeResults(out, table + '\n');
}

runAsEntryPoint('token-count.js', main);

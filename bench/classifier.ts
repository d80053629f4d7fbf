/**
 * npm run bench -- --classifier [--out DIR]
 *
 * How long the `auto` virtual model of examples/router.yaml takes to resolve a 4 KB prompt to a
 * group (request features, rules, local semantic matching) against the cost of JSON.parse of the
 * same body, measured in the same run. Target: p99 under 5 ms.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.js';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { Router } from '../src/routing/choose.js';
import { routeRequestOf } from '../src/routing/features.js';
import { distribution, type Distribution } from './stats.js';
import { runAsEntryPoint, writeResults } from './entry.js';

const WORDS = 'the a of to write code function poem analyse compare data report story capital question explain why how server error test class love sea risk plan'.split(' ');
const ITERATIONS = 5000;
const WARM_UP = 500;
const TARGET_P99_MS = 5;

/** Prompts of about 4 KB: varied words, so no two are the same. */
function prompts(count: number, bytes: number): Buffer[] {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => {
    let text = '';
    while (text.length < bytes) text += WORDS[Math.floor(random() * WORDS.length)] + ' ';
    return Buffer.from(JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: text.slice(0, bytes) }] }));
  });
}

function time(bodies: readonly Buffer[], work: (b: Buffer) => unknown): Distribution {
  const ms: number[] = [];
  for (let i = 0; i < WARM_UP + ITERATIONS; i++) {
    const body = bodies[i % bodies.length]!;
    const t = performance.now();
    work(body);
    if (i >= WARM_UP) ms.push(performance.now() - t);
  }
  return distribution(ms);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, classifier: { type: 'boolean' } } });
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'classifier');
  const config = parseConfig(await readFile(join(PROJECT_ROOT, 'examples', 'router.yaml'), 'utf8'), 'examples/router.yaml', {});
  const router = new Router(config);
  const bodies = prompts(200, 4096);
  const parse = time(bodies, (b) => JSON.parse(b.toString('utf8')));
  const classify = time(bodies, (b) => router.resolve(routeRequestOf(JSON.parse(b.toString('utf8')) as Record<string, unknown>, {}, config.routing)));
  const results = { node: process.version, iterations: ITERATIONS, promptBytes: 4096, parse, classify, targetP99Ms: TARGET_P99_MS };
  const f = (n: number) => n.toFixed(3);
  const table = [
    `Classifier (\`auto\` of examples/router.yaml), 4 KB prompts, ${ITERATIONS} runs, node ${process.version}.`,
    '',
    '| | p50 ms | p99 ms |',
    '|---|---|---|',
    `| JSON.parse of the body (baseline) | ${f(parse.p50)} | ${f(parse.p99)} |`,
    `| parse + features + classify | ${f(classify.p50)} | ${f(classify.p99)} |`,
    `| ratio to the baseline | ${(classify.p50 / parse.p50).toFixed(1)}× | ${(classify.p99 / parse.p99).toFixed(1)}× |`,
    '',
    `Target p99 < ${TARGET_P99_MS} ms: ${classify.p99 < TARGET_P99_MS ? 'met' : '**missed**'} (${f(classify.p99)} ms).`,
  ].join('\n');
  await writeResults(out, table + '\n', results);
}

runAsEntryPoint('classifier.js', main);

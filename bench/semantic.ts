/**
 * npm run bench -- --semantic [--entries N] [--dimensions D] [--clusters N] [--out DIR]
 *
 * The semantic cache's lookup at 100,000 stored prompts (384 dimensions, the size of small
 * sentence-embedding models), all in one partition — the worst case: one group, one namespace, the
 * same parameters. The vectors go through the router's own path (records in the state store's log,
 * read into the index by SemanticCache.sync), then, in the same run:
 *   - index search: SemanticCache.search, the HNSW index (usearch) the router uses;
 *   - lookup: SemanticCache.find, the search and the read of the stored answer (memory store);
 *   - flat scan: the alternative, a brute-force dot product over every vector of the partition.
 * Queries are stored vectors with noise added (a paraphrase's neighbour exists), so a lookup also
 * reports how often the nearest found is the true nearest (recall@1 against the flat scan).
 * Uniformly random vectors are harder for a graph index than real embeddings, which cluster:
 * `--clusters N` draws them around N topic centres instead. Target: lookup
 * p99 ≤ 2 ms. Results: DIR/results.json and DIR/results.md.
 */
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeEntry } from '../src/cache/entry.js';
import { SemanticCache } from '../src/cache/semantic.js';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { MemoryStore } from '../src/state/memory.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { distribution, type Distribution } from './stats.js';

const QUERIES = 2000;
const FLAT_QUERIES = 100;
const WARM_UP = 200;
const TARGET_P99_MS = 2;
const GROUP = 'bench';
const PARTITION = 'one';
const HOUR_MS = 3_600_000;
/** With --clusters: the noise around a topic's centre (uniform ±SPREAD per dimension: ~0.8 cosine to it at 384 dimensions). */
const SPREAD = 0.066;

/** mulberry32: 32-bit state, so tens of millions of draws do not fall into a short cycle (duplicate vectors). */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

function flatNearest(all: Float32Array, dimensions: number, q: Float32Array): number {
  let best = -2;
  let at = -1;
  for (let i = 0, o = 0; o < all.length; i++, o += dimensions) {
    let d = 0;
    for (let j = 0; j < dimensions; j++) d += all[o + j]! * q[j]!;
    if (d > best) {
      best = d;
      at = i;
    }
  }
  return at;
}

/** Wall time per run, and the process's CPU time per run (what a lookup costs whether or not the machine's other work delays it). */
async function timed(count: number, work: (i: number) => unknown): Promise<Distribution & { cpuMeanMs: number }> {
  const ms: number[] = [];
  let cpu = { user: 0, system: 0 };
  for (let i = 0; i < WARM_UP + count; i++) {
    if (i === WARM_UP) cpu = process.cpuUsage();
    const t = performance.now();
    await work(i);
    if (i >= WARM_UP) ms.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  return { ...distribution(ms), cpuMeanMs: (used.user + used.system) / 1000 / count };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, entries: { type: 'string' }, dimensions: { type: 'string' }, clusters: { type: 'string' }, semantic: { type: 'boolean' } } });
  const out = values.out ?? join(PROJECT_ROOT, 'bench', 'results', 'semantic');
  const entries = Number(values.entries ?? 100_000);
  const dimensions = Number(values.dimensions ?? 384);
  const clusters = Number(values.clusters ?? 0);
  const random = seeded(7);
  const all = new Float32Array(entries * dimensions);
  for (let i = 0; i < all.length; i++) all[i] = random() * 2 - 1;
  if (clusters > 0) {
    // Topics: each vector its topic's centre plus noise, about 0.8 similar to it (real embeddings cluster; uniform ones do not).
    const centres = Array.from({ length: clusters }, () => unit(Float32Array.from({ length: dimensions }, () => random() * 2 - 1)));
    for (let i = 0; i < entries; i++) {
      const c = centres[Math.floor(random() * clusters)]!;
      for (let j = 0; j < dimensions; j++) all[i * dimensions + j] = c[j]! + all[i * dimensions + j]! * SPREAD;
    }
  }
  for (let i = 0; i < entries; i++) unit(all.subarray(i * dimensions, (i + 1) * dimensions));

  const now = Date.now();
  const store = new MemoryStore(10, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  const cache = new SemanticCache(store, () => now, (err) => console.error(err));
  const answer = encodeEntry({ contentType: 'application/json', storedAtMs: now, deployment: 'd', provider: 'openai', providerModel: 'm', responseModel: 'm', costNanos: 1000, body: Buffer.from('{"choices":[]}') });
  cache.start(entries);
  const built = performance.now();
  let added: Promise<void> = Promise.resolve();
  for (let i = 0; i < entries; i++) {
    const key = `global/${i}`;
    await store.cacheSet(key, answer, HOUR_MS, now);
    added = cache.add(GROUP, PARTITION, key, all.subarray(i * dimensions, (i + 1) * dimensions), now + HOUR_MS, entries);
  }
  await added;
  const buildMs = performance.now() - built;
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  if (cache.size !== entries) throw new Error(`indexed ${cache.size} of ${entries}`);

  // A stored prompt with noise: its neighbour is in the index, as a paraphrase's would be.
  const queries = Array.from({ length: QUERIES + WARM_UP }, (_, i) => {
    const at = Math.floor(random() * entries);
    const q = all.slice(at * dimensions, (at + 1) * dimensions);
    for (let j = 0; j < dimensions; j++) q[j]! += (random() * 2 - 1) * 0.02;
    return unit(q);
  });
  const search = await timed(QUERIES, (i) => cache.search(GROUP, PARTITION, queries[i]!, 0.5));
  const find = await timed(QUERIES, (i) => cache.find(GROUP, PARTITION, queries[i]!, 0.5));
  let agree = 0;
  // How far the similarity the index reports (half-precision vectors) is from the exact one.
  let similarityError = 0;
  const flat = await timed(FLAT_QUERIES, (i) => {
    const q = queries[i]!;
    const nearest = flatNearest(all, dimensions, q);
    const found = cache.search(GROUP, PARTITION, q, 0)[0];
    if (found?.key === `global/${nearest}`) agree++;
    if (found === undefined) return;
    const at = Number(found.key.slice('global/'.length)) * dimensions;
    let exact = 0;
    for (let j = 0; j < dimensions; j++) exact += all[at + j]! * q[j]!;
    similarityError = Math.max(similarityError, Math.abs(found.similarity - exact));
  });
  const recall = agree / (WARM_UP + FLAT_QUERIES);
  cache.stop();

  const results = { node: process.version, loadavg: loadavg(), entries, clusters, dimensions, buildMs, rssMb, search, find, flat, recallAt1: recall, maxSimilarityError: similarityError, targetP99Ms: TARGET_P99_MS };
  const f = (n: number) => n.toFixed(3);
  const table = [
    `Semantic cache lookup: ${entries} stored prompts of ${dimensions} dimensions in one partition, ${clusters > 0 ? `in ${clusters} topics (each vector ~0.8 similar to its topic's centre)` : 'uniformly random (no structure: the hardest case for a graph index)'}, node ${process.version}.`,
    '',
    '| | p50 ms | p90 ms | p99 ms | CPU ms per run (mean) | runs |',
    '|---|---|---|---|---|---|',
    `| index search (usearch HNSW, half-precision vectors, 4 nearest) | ${f(search.p50)} | ${f(search.p90)} | ${f(search.p99)} | ${f(search.cpuMeanMs)} | ${QUERIES} |`,
    `| lookup: search + stored answer read (memory store) | ${f(find.p50)} | ${f(find.p90)} | ${f(find.p99)} | ${f(find.cpuMeanMs)} | ${QUERIES} |`,
    `| flat scan (brute-force dot products, the alternative) | ${f(flat.p50)} | ${f(flat.p90)} | ${f(flat.p99)} | ${f(flat.cpuMeanMs)} | ${FLAT_QUERIES} |`,
    '',
    `Recall@1 of the index against the flat scan: ${(recall * 100).toFixed(1)}%; the similarity it reports is within ${similarityError.toFixed(5)} of the exact one. Storing the ${entries} answers and reading their records from the log into the index: ${(buildMs / 1000).toFixed(1)} s; the process's resident memory then: ${rssMb.toFixed(0)} MB (the vectors: ${((entries * dimensions * 2) / 2 ** 20).toFixed(0)} MB in the index at half precision, and ${((entries * dimensions * 4) / 2 ** 20).toFixed(0)} MB in the bench's own float32 copy for the flat scan).`,
    '',
    `Machine load average when done: ${loadavg().map((l) => l.toFixed(1)).join(', ')} on ${availableParallelism()} cores (wall-time percentiles include waits for a core).`,
    '',
    `Target lookup p99 ≤ ${TARGET_P99_MS} ms: ${find.p99 <= TARGET_P99_MS ? 'met' : '**missed**'} (${f(find.p99)} ms).`,
  ].join('\n');
  await writeResults(out, table + '\n', results);
}

runAsEntryPoint('semantic.js', main);

/** A client for OpenAI-compatible `/v1/embeddings`: texts in, unit-length vectors out, in order. */
import type { Logger } from 'pino';
import type { EmbeddingsEndpoint, RouterConfig } from '../../config/compile.js';
import type { ExampleVectors } from '../../routing/classifier/index.js';

/** Embedding every example at start is one larger request: allow it more than a prompt's timeout. */
const STARTUP_TIMEOUT_MS = 30_000;

function unit(values: readonly number[]): Float32Array {
  const v = Float32Array.from(values);
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

export async function embed(endpoint: EmbeddingsEndpoint, input: readonly string[], timeoutMs = endpoint.timeoutMs): Promise<Float32Array[]> {
  const res = await fetch(endpoint.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(endpoint.apiKey === null ? {} : { authorization: `Bearer ${endpoint.apiKey}` }) },
    body: JSON.stringify({ model: endpoint.model, input }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`embeddings endpoint answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const body = (await res.json()) as { data?: Array<{ index?: number; embedding?: unknown }> };
  const out: Float32Array[] = new Array<Float32Array>(input.length);
  for (const item of body.data ?? []) {
    if (typeof item.index === 'number' && Array.isArray(item.embedding)) out[item.index] = unit(item.embedding as number[]);
  }
  for (let i = 0; i < input.length; i++) if (out[i] === undefined) throw new Error(`embeddings endpoint returned no vector for input ${i}`);
  return out;
}

/**
 * The example utterances of every virtual model with an embeddings endpoint, embedded once at start
 * (one request per model). A model whose endpoint fails keeps the local matcher, and the log says so.
 */
export async function embedExamples(config: RouterConfig, log: Logger): Promise<Map<string, ExampleVectors>> {
  const out = new Map<string, ExampleVectors>();
  for (const v of config.virtualModels.values()) {
    const endpoint = v.semantic?.embeddings ?? null;
    if (endpoint === null) continue;
    const examples = v.semantic!.routes.flatMap((r) => r.examples.map((text) => ({ group: r.group, text })));
    try {
      const vectors = await embed(
        endpoint,
        examples.map((e) => e.text),
        STARTUP_TIMEOUT_MS,
      );
      out.set(
        v.name,
        examples.map((e, i) => ({ group: e.group, vector: vectors[i]! })),
      );
    } catch (err) {
      log.error({ err, virtualModel: v.name, url: endpoint.url }, 'cannot embed the examples: this virtual model uses the local matcher');
    }
  }
  return out;
}

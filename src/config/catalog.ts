/**
 * Default prices and context windows of public models, from the maintained catalog in
 * `@pydantic/genai-prices` (pinned in package.json; its bundled data, never fetched at run time), so a
 * deployment of a known model needs only `provider` and `provider_model`. router.yaml's own `price`
 * and `context_window` override it.
 */
import { createRequire } from 'node:module';
import type { ProviderName } from '../providers/registry.js';

type GenaiPrices = typeof import('@pydantic/genai-prices');

interface PriceFile {
  readonly input_per_million: number;
  readonly output_per_million: number;
  readonly cached_input_per_million?: number | undefined;
}

/** A model's figures in router.yaml's units (USD per 1M tokens); null where the catalog has none. */
export interface CatalogEntry {
  readonly price: PriceFile | null;
  readonly context_window: number | null;
}

/** The catalog's provider for each of ours. vLLM and other OpenAI-compatible servers run models priced by whoever runs them: none. */
const CATALOG_PROVIDER: Readonly<Record<ProviderName, string | null>> = {
  openai: 'openai',
  'azure-openai': 'azure',
  anthropic: 'anthropic',
  gemini: 'google',
  bedrock: 'aws',
  vllm: null,
  'openai-compatible': null,
};

// Loaded on first use, synchronously (config validation is synchronous): a router whose deployments
// all give their figures never pays for it (~40 ms and ~3 MiB of heap when it does).
let catalog: GenaiPrices | undefined;
function loadCatalog(): GenaiPrices {
  catalog ??= createRequire(import.meta.url)('@pydantic/genai-prices') as GenaiPrices;
  return catalog;
}

/** A tiered price (a surcharge past some prompt length) counts at its base rate: the router bills one rate per token kind. */
function perMillion(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { base?: unknown }).base === 'number') return (value as { base: number }).base;
  return undefined;
}

/**
 * What the catalog knows of `model` at `provider`, with the prices in force at `at` (a catalog entry
 * may change its price from a date on); null when it has no such model. Ids match as the catalog
 * matches them: dated versions and Bedrock's regional prefixes (`us.anthropic…`) find their model.
 */
export function catalogEntry(provider: ProviderName, model: string, at: Date = new Date()): CatalogEntry | null {
  const providerId = CATALOG_PROVIDER[provider];
  if (providerId === null) return null;
  const found = loadCatalog().calcPrice({}, model, { providerId, timestamp: at });
  if (found === null) return null;
  const input = perMillion(found.model_price['input_mtok']);
  return {
    // Embedding models have no output price: they produce no completion tokens.
    price:
      input === undefined
        ? null
        : {
            input_per_million: input,
            output_per_million: perMillion(found.model_price['output_mtok']) ?? 0,
            cached_input_per_million: perMillion(found.model_price['cache_read_mtok']) ?? input,
          },
    context_window: found.model.context_window ?? null,
  };
}

/** A deployment's figures: router.yaml's, else the catalog's (looked up only for what router.yaml leaves out). */
export interface Figures extends CatalogEntry {
  /** Whether the catalog knows the model, for the error that names what is missing. */
  readonly inCatalog: boolean;
}

export function figuresOf(d: { readonly provider: ProviderName; readonly provider_model: string; readonly price?: PriceFile | undefined; readonly context_window?: number | undefined }): Figures {
  const known = d.price === undefined || d.context_window === undefined ? catalogEntry(d.provider, d.provider_model) : null;
  return { price: d.price ?? known?.price ?? null, context_window: d.context_window ?? known?.context_window ?? null, inCatalog: known !== null };
}

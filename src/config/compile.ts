/**
 * Turns a validated router.yaml into the runtime form: lookups by name, prices per token, and
 * credentials read from the environment or files, each deployment's paths and headers — all
 * computed once at load so the hot path only indexes.
 */
import { hashKey, keyFromRecord, type Limits, type VirtualKey } from '../auth/keys.js';
import type { OverloadLimits } from '../admission/overload.js';
import type { WindowName } from '../admission/windows.js';
import type { HeaderPair, ProviderAdapter, Signer } from '../providers/adapter.js';
import { credentialHeader, CREDENTIAL_HEADERS } from '../providers/auth.js';
import { headerAllowlist, type HeaderAllowlist } from '../providers/forwarded-headers.js';
import { PROVIDERS } from '../providers/registry.js';
import type { Call } from '../routing/types.js';
import { cachePolicyOf, type CachePolicy } from '../cache/policy.js';
import { figuresOf } from './catalog.js';
import type { BalancePreset, Capability, MatcherFile, RouterConfigFile, StrategyKind } from './schema.js';

export type { BalancePreset, Capability, StrategyKind };

export interface Price {
  /** nano-USD (1e-9 $) per token; a $/1M-tokens price × 1000. Fractions are kept until the record is rounded. */
  readonly inputNanosPerToken: number;
  readonly cachedInputNanosPerToken: number;
  readonly outputNanosPerToken: number;
}

export interface Deployment {
  readonly name: string;
  /** Its Envoy cluster: `cluster` in router.yaml, else its name. */
  readonly cluster: string;
  readonly provider: string;
  readonly modelGroup: string;
  readonly providerModel: string;
  /** Traffic share for weighted-random: `weight`, else the RPM (or TPM) limit when no weight is set in the group. */
  readonly weight: number;
  readonly price: Price;
  readonly tags: ReadonlySet<string>;
  /** The pool named in `routing.tiers`, or null. */
  readonly tier: string | null;
  readonly quality: number;
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly contextWindow: number;
  readonly capabilities: ReadonlySet<Capability>;
  /** Speaks its provider's API (providers/registry.ts). */
  readonly adapter: ProviderAdapter;
  /** `:path`, query included, of a call for each endpoint; null for one its provider does not serve (schema.ts refuses the capability). */
  readonly paths: Readonly<Record<Call, string | null>>;
  /** What every attempt at it carries: its credential (none when it needs none: vLLM, the mock) and fixed headers. */
  readonly upstreamHeaders: readonly HeaderPair[];
  /**
   * What no attempt at it may carry: a client's credential headers, `accept-encoding` (usage is read
   * from the response), and whatever another deployment's attempt set on the request all attempts share.
   */
  readonly removedHeaders: readonly string[];
  /** Signs each attempt (`aws-sigv4`), after its body is written (pipeline/attempt.ts). */
  readonly signer: Signer | null;
  /** The variable or file named for its credential when it is missing, so `serve` can say so at start. */
  readonly missingCredential: string | null;
  /** The client headers it receives: its provider's allowlist and its own `forward_headers`. */
  readonly forwardHeaders: HeaderAllowlist;
}

export interface BalanceWeights {
  readonly quality: number;
  readonly cost: number;
  readonly latency: number;
}

/** The presets of the balanced strategy (seed 001): weights of quality, cost and latency. */
export const BALANCE_WEIGHTS: Readonly<Record<BalancePreset, BalanceWeights>> = {
  balanced: { quality: 0.4, cost: 0.3, latency: 0.3 },
  'cost-first': { quality: 0.2, cost: 0.6, latency: 0.2 },
  'quality-first': { quality: 0.6, cost: 0.2, latency: 0.2 },
};

export interface ModelGroup {
  readonly name: string;
  readonly description: string | null;
  readonly strategy: StrategyKind;
  readonly deployments: readonly Deployment[];
  readonly latencyTolerance: number;
  /** The group's own RPM/TPM over every key (admission); null when unlimited. */
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly balance: { readonly weights: BalanceWeights; readonly allowOverride: boolean };
  /** Some deployment has tags: requests are matched to them (untagged ones to `default`). */
  readonly tagged: boolean;
  /** Some deployment has a `default` tag. */
  readonly hasDefaultTag: boolean;
  /** Some deployment belongs to a tier pool: requests are matched to their tier's pools. */
  readonly tiered: boolean;
  /** Model group names, in order (routing/plan.ts). */
  readonly fallbacks: readonly string[];
  readonly contextWindowFallbacks: readonly string[];
  readonly contentPolicyFallbacks: readonly string[];
  /** The exact response cache's policy for the group; null when the group is not cached. */
  readonly cache: CachePolicy | null;
}

export interface VirtualModel {
  readonly name: string;
  readonly defaultGroup: string;
  readonly rules: ReadonlyArray<{ readonly name: string; readonly group: string; readonly when: MatcherFile & { readonly pattern: RegExp | null } }>;
  readonly semantic: {
    readonly threshold: number;
    readonly routes: ReadonlyArray<{ readonly group: string; readonly examples: readonly string[] }>;
    readonly embeddings: EmbeddingsEndpoint | null;
  } | null;
}

export interface EmbeddingsEndpoint {
  readonly url: string;
  readonly model: string;
  readonly apiKey: string | null;
  readonly timeoutMs: number;
}

type EmbeddingsEndpointFile = NonNullable<NonNullable<RouterConfigFile['model_groups'][number]['cache']>['semantic']>['embeddings'];

function embeddingsEndpointOf(file: EmbeddingsEndpointFile, env: Readonly<Record<string, string | undefined>>): EmbeddingsEndpoint {
  return { url: file.url, model: file.model, apiKey: file.api_key_env === undefined ? null : (env[file.api_key_env] ?? null), timeoutMs: file.timeout_ms };
}

/** What a request's own tags may be, and which of them count (features.ts). */
export interface TagPolicy {
  /** Tags a request may send, and their length (`limits.max_tags`, `limits.max_tag_length`). */
  readonly max: number;
  readonly maxLength: number;
  /** Tags usage totals count when a client sends them: those of keys, deployments, tag budgets and `known_tags`. */
  readonly known: ReadonlySet<string>;
  /** Tags with a budget: only keys that own or are allowed them may send them. */
  readonly budgeted: ReadonlySet<string>;
}

export interface RoutingSettings {
  readonly clusterHeader: string;
  readonly tagsHeader: string;
  readonly tags: TagPolicy;
  readonly tierHeader: string;
  readonly defaultTier: string | null;
  /** Request tier → deployment pools in order of preference. */
  readonly tiers: ReadonlyMap<string, readonly string[]>;
  readonly preferenceHeader: string;
  readonly decisionHeader: boolean;
  readonly providerLimitHeaders: boolean;
  readonly cooldownMs: number;
  readonly allowedFails: number;
  readonly allowedFailsWindowMs: number;
  readonly envoyAdminUrl: string | null;
  readonly healthPollMs: number;
}


export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

export interface RouterConfig {
  readonly grpc: ListenAddress & { readonly socket?: string | undefined; readonly options: Readonly<Record<string, number | string>> };
  /**
   * `token`: the bearer token the API requires — null when its variable is not set, and then no
   * request gets in (never open by mistake) — or null without token_env.
   */
  readonly admin: ListenAddress & {
    readonly token: { readonly env: string; readonly value: string | null } | null;
    /** No token configured: true lets everyone in, false nobody (`server.admin.open`). */
    readonly open: boolean;
    readonly allowedHosts: readonly string[];
  };
  readonly shutdownGraceMs: number;
  readonly clusterHeader: string;
  readonly routing: RoutingSettings;
  readonly maxRequestBodyBytes: number;
  /** When new requests are refused at the headers phase because the router is behind. */
  readonly overload: OverloadLimits;
  /**
   * Prompts whose free token bound (plus max_tokens) is above this may need an exact count: the
   * smallest context window or token threshold of a rule. Below it the tokenizer is never needed.
   */
  readonly countTokensAbove: number;
  /** How long one prompt's count may take before the rest of it is bounded by its bytes. */
  readonly tokenCountBudgetMs: number;
  readonly state: RouterConfigFile['state'] & { readonly usage_log_max_entries: number };
  readonly logLevel: RouterConfigFile['log_level'];
  /** OTLP trace export (telemetry/tracing.ts); null: tracing off. */
  readonly tracing: TracingConfig | null;
  readonly auth: { readonly mode: 'off' | 'keys'; readonly cacheMs: number; readonly anonymousIdsPerDay: number };
  /** Keys from router.yaml by hash (keys whose `key_env` is unset are left out, and listed below). */
  readonly keys: ReadonlyMap<string, VirtualKey>;
  readonly keysMissingEnv: readonly string[];
  readonly teams: ReadonlyMap<string, Limits>;
  readonly tierLimits: ReadonlyMap<string, Limits>;
  readonly tagBudgets: ReadonlyMap<string, ReadonlyArray<{ readonly usd: number; readonly window: WindowName }>>;
  readonly providerBudgets: ReadonlyMap<string, ReadonlyArray<{ readonly usd: number; readonly window: WindowName }>>;
  readonly groupBudgets: ReadonlyMap<string, ReadonlyArray<{ readonly usd: number; readonly window: WindowName }>>;
  /** Load shedding per tier: in-flight requests of a group at which the tier is shed, and where it goes instead. */
  readonly shedding: ReadonlyMap<string, { readonly maxInFlight: number; readonly degradeTo: string | null }>;
  /** Completion tokens reserved when a request sets no max_tokens. */
  readonly defaultMaxTokens: number;
  /** Whether a request whose limits cannot be checked goes on (`open`) or gets 503 (`closed`). */
  readonly onStoreFailure: { readonly rateLimits: 'open' | 'closed'; readonly budgets: 'open' | 'closed' };
  readonly groups: ReadonlyMap<string, ModelGroup>;
  readonly virtualModels: ReadonlyMap<string, VirtualModel>;
  readonly deployments: ReadonlyMap<string, Deployment>;
  /** The same, by Envoy cluster: what `xds.cluster_name` and the routing header name. */
  readonly clusters: ReadonlyMap<string, Deployment>;
}

/** weighted-random's weights: explicit ones, else all by RPM limit, else all by TPM limit, else equal. */
function groupWeights(file: RouterConfigFile, group: string): (d: RouterConfigFile['deployments'][number]) => number {
  const members = file.deployments.filter((d) => d.model_group === group);
  if (members.some((d) => d.weight !== undefined)) return (d) => d.weight ?? 1;
  if (members.every((d) => d.rpm_limit !== undefined)) return (d) => d.rpm_limit!;
  if (members.every((d) => d.tpm_limit !== undefined)) return (d) => d.tpm_limit!;
  return () => 1;
}

interface Secret {
  readonly value: string | null;
  /** The variable or file named for it when it is missing. */
  readonly missing: string | null;
}

const NO_SECRET: Secret = { value: null, missing: null };

/** A secret from its variable or its file (`files`: their contents, read by load.ts). */
function secretOf(ref: { readonly env?: string | undefined; readonly file?: string | undefined }, env: NodeJS.ProcessEnv, files: ReadonlyMap<string, string>): Secret {
  if (ref.env !== undefined) {
    const value = env[ref.env] ?? null;
    return { value, missing: value === null ? `environment variable ${ref.env}` : null };
  }
  if (ref.file !== undefined) {
    // A Secret mounted as a file usually ends in a newline, which no credential holds.
    const value = files.get(ref.file)?.trim() || null;
    return { value, missing: value === null ? `file ${ref.file}` : null };
  }
  return NO_SECRET;
}

/** Every file router.yaml names for a deployment's secrets (load.ts reads them). */
export function secretFilesOf(d: DeploymentFile): string[] {
  const refs = [{ file: d.api_key_file }, d.aws?.access_key_id, d.aws?.secret_access_key, d.aws?.session_token];
  return refs.flatMap((r) => (r?.file === undefined ? [] : [r.file]));
}

/** The signer of a deployment whose auth is `aws-sigv4`, or why it has none. */
function signerOf(d: DeploymentFile, adapter: ProviderAdapter, env: NodeJS.ProcessEnv, files: ReadonlyMap<string, string>): { signer: Signer | null; missing: string | null } {
  if (d.aws === undefined || adapter.signerFor === undefined) return { signer: null, missing: null };
  const [keyId, secret, token] = [d.aws.access_key_id, d.aws.secret_access_key, d.aws.session_token].map((r) => (r === undefined ? NO_SECRET : secretOf(r, env, files)));
  const missing = keyId!.missing ?? secret!.missing ?? token!.missing;
  if (missing !== null || keyId!.value === null || secret!.value === null) return { signer: null, missing };
  const host = d.aws.host ?? adapter.awsHostOf!(d.aws.region);
  return { signer: adapter.signerFor({ region: d.aws.region, host, accessKeyId: keyId!.value, secretAccessKey: secret!.value, sessionToken: token!.value }), missing: null };
}

/** The path and headers of every call to `d`: router.yaml's `endpoint`, else its provider's defaults. */
function upstreamOf(d: DeploymentFile, adapter: ProviderAdapter, credential: string | null): { paths: Record<Call, string | null>; headers: HeaderPair[] } {
  const basePath = d.endpoint?.base_path ?? adapter.defaults.basePath(d.provider_model);
  const query = new URLSearchParams(d.endpoint?.query ?? adapter.defaults.query).toString();
  // The provider's own query on a path (Gemini's `alt=sse`) comes first.
  const pathOf = (suffix: string | null) => (suffix === null ? null : query === '' ? `${basePath}${suffix}` : `${basePath}${suffix}${suffix.includes('?') ? '&' : '?'}${query}`);
  const headers: HeaderPair[] = Object.entries({ ...adapter.defaults.headers, ...d.endpoint?.headers }).map(([name, value]) => [name.toLowerCase(), value]);
  const auth = credentialHeader(d.endpoint?.auth ?? adapter.defaults.auth, credential);
  if (auth !== null) headers.push(auth);
  const paths = { chat: pathOf(adapter.paths.chat), 'chat-stream': pathOf(adapter.paths['chat-stream']), embeddings: pathOf(adapter.paths.embeddings), completions: pathOf(adapter.paths.completions), count_tokens: pathOf(adapter.paths.count_tokens) };
  return { paths, headers };
}

type DeploymentFile = RouterConfigFile['deployments'][number];

/** `files`: the contents of the credential files router.yaml names (`api_key_file`), by path. */
export function compileConfig(file: RouterConfigFile, env: NodeJS.ProcessEnv, files: ReadonlyMap<string, string> = new Map()): RouterConfig {
  const deployments = new Map<string, Deployment>();
  const byGroup = new Map<string, Deployment[]>();
  const weightOf = new Map(file.model_groups.map((g) => [g.name, groupWeights(file, g.name)]));
  const upstreams = file.deployments.map((d) => {
    const credential = secretOf({ env: d.api_key_env, file: d.api_key_file }, env, files);
    return { credential, ...signerOf(d, PROVIDERS[d.provider], env, files), ...upstreamOf(d, PROVIDERS[d.provider], credential.value) };
  });
  // Attempts share one request header map: what any deployment sets, another's attempt removes.
  const setByAny = new Set(upstreams.flatMap((u) => u.headers.map(([name]) => name)));
  const mayNotCarry = [...new Set<string>([...CREDENTIAL_HEADERS, 'accept-encoding', ...setByAny])];
  for (const [i, d] of file.deployments.entries()) {
    const upstream = upstreams[i]!;
    const adapter = PROVIDERS[d.provider];
    const own = new Set(upstream.headers.map(([name]) => name));
    // schema.ts refused a deployment that neither router.yaml nor the catalog gives both figures for.
    const figures = figuresOf(d);
    const price = figures.price!;
    const deployment: Deployment = {
      name: d.name,
      cluster: d.cluster ?? d.name,
      provider: d.provider,
      modelGroup: d.model_group,
      providerModel: d.provider_model,
      weight: weightOf.get(d.model_group)!(d),
      price: {
        inputNanosPerToken: price.input_per_million * 1000,
        cachedInputNanosPerToken: (price.cached_input_per_million ?? price.input_per_million) * 1000,
        outputNanosPerToken: price.output_per_million * 1000,
      },
      contextWindow: figures.context_window!,
      capabilities: new Set(d.capabilities),
      tags: new Set(d.tags),
      tier: d.tier ?? null,
      quality: d.quality,
      rpmLimit: d.rpm_limit ?? null,
      tpmLimit: d.tpm_limit ?? null,
      adapter,
      paths: upstream.paths,
      upstreamHeaders: upstream.headers,
      removedHeaders: mayNotCarry.filter((name) => !own.has(name)),
      signer: upstream.signer,
      missingCredential: upstream.credential.missing ?? upstream.missing,
      forwardHeaders: headerAllowlist([...adapter.forwardedHeaders, ...d.forward_headers]),
    };
    deployments.set(d.name, deployment);
    const list = byGroup.get(d.model_group) ?? [];
    list.push(deployment);
    byGroup.set(d.model_group, list);
  }
  const groups = new Map<string, ModelGroup>();
  for (const g of file.model_groups) {
    const members = byGroup.get(g.name) ?? [];
    groups.set(g.name, {
      name: g.name,
      description: g.description ?? null,
      strategy: g.strategy,
      deployments: members,
      latencyTolerance: g.latency_tolerance,
      rpmLimit: g.rpm_limit ?? null,
      tpmLimit: g.tpm_limit ?? null,
      balance: { weights: g.balance.weights ?? BALANCE_WEIGHTS[g.balance.preset], allowOverride: g.balance.allow_override },
      tagged: members.some((d) => d.tags.size > 0),
      hasDefaultTag: members.some((d) => d.tags.has('default')),
      tiered: members.some((d) => d.tier !== null),
      fallbacks: g.fallbacks,
      contextWindowFallbacks: g.context_window_fallbacks,
      contentPolicyFallbacks: g.content_policy_fallbacks,
      cache: g.cache === undefined ? null : cachePolicyOf(g.cache, g.cache.semantic === undefined ? null : embeddingsEndpointOf(g.cache.semantic.embeddings, env)),
    });
  }
  const virtualModels = new Map<string, VirtualModel>();
  for (const v of file.virtual_models) {
    virtualModels.set(v.name, {
      name: v.name,
      defaultGroup: v.default_group,
      rules: v.rules.map((r, i) => ({ name: r.name ?? `rule-${i + 1}`, group: r.group, when: { ...r.when, pattern: r.when.regex === undefined ? null : new RegExp(r.when.regex, 'i') } })),
      semantic:
        v.semantic === undefined
          ? null
          : {
              threshold: v.semantic.threshold,
              routes: v.semantic.routes,
              embeddings: v.semantic.embeddings === undefined ? null : embeddingsEndpointOf(v.semantic.embeddings, env),
            },
    });
  }
  const keys = new Map<string, VirtualKey>();
  const keysMissingEnv: string[] = [];
  for (const k of file.keys) {
    const plain = k.key_env === undefined ? undefined : env[k.key_env];
    if (k.key_env !== undefined && (plain === undefined || plain === '')) {
      keysMissingEnv.push(k.name);
      continue;
    }
    const hash = k.key_sha256 ?? hashKey(plain!);
    const { key_sha256: _sha, key_env: _env, ...fields } = k;
    keys.set(hash, keyFromRecord({ ...fields, hash }));
  }
  const byName = <T>(items: readonly T[], name: (t: T) => string, budget: (t: T) => { usd: number; window: WindowName }) => {
    const out = new Map<string, Array<{ usd: number; window: WindowName }>>();
    for (const t of items) out.set(name(t), [...(out.get(name(t)) ?? []), budget(t)]);
    return out;
  };
  const usdWindow = (b: { usd: number; window: WindowName }) => ({ usd: b.usd, window: b.window });
  const tagBudgets = byName(file.tag_budgets, (b) => b.tag, usdWindow);
  return {
    grpc: file.server.grpc,
    admin: {
      address: file.server.admin.address,
      port: file.server.admin.port,
      token: file.server.admin.token_env === undefined ? null : { env: file.server.admin.token_env, value: env[file.server.admin.token_env] || null },
      open: file.server.admin.open,
      allowedHosts: file.server.admin.allowed_hosts,
    },
    shutdownGraceMs: file.server.shutdown_grace_ms,
    clusterHeader: file.routing.cluster_header,
    routing: {
      clusterHeader: file.routing.cluster_header,
      tagsHeader: file.routing.tags_header,
      tags: {
        max: file.limits.max_tags,
        maxLength: file.limits.max_tag_length,
        known: new Set([
          ...file.known_tags,
          ...file.tag_budgets.map((b) => b.tag),
          ...file.deployments.flatMap((d) => d.tags),
          ...file.keys.flatMap((k) => [...k.tags, ...k.allowed_tags]),
        ]),
        budgeted: new Set(tagBudgets.keys()),
      },
      tierHeader: file.routing.tier_header,
      defaultTier: file.routing.default_tier ?? null,
      tiers: new Map(file.routing.tiers.map((t) => [t.name, t.pools])),
      preferenceHeader: file.routing.preference_header,
      decisionHeader: file.routing.decision_header,
      providerLimitHeaders: file.routing.provider_limit_headers,
      cooldownMs: file.routing.cooldown_ms,
      allowedFails: file.routing.allowed_fails,
      allowedFailsWindowMs: file.routing.allowed_fails_window_ms,
      envoyAdminUrl: file.routing.envoy_admin_url ?? null,
      healthPollMs: file.routing.health_poll_ms,
    },
    maxRequestBodyBytes: file.limits.max_request_body_bytes,
    overload: {
      maxEventLoopLagMs: file.limits.overload.max_event_loop_lag_ms,
      maxInFlight: file.limits.overload.max_in_flight,
      protectedTiers: new Set(file.limits.overload.protected_tiers),
      protectedMaxEventLoopLagMs: file.limits.overload.protected_max_event_loop_lag_ms,
      protectedMaxInFlight: file.limits.overload.protected_max_in_flight,
      retryAfterSec: file.limits.overload.retry_after_s,
    },
    countTokensAbove: Math.min(
      ...[...deployments.values()].map((d) => d.contextWindow),
      ...file.virtual_models.flatMap((v) => v.rules.flatMap((r) => [r.when.min_prompt_tokens ?? Infinity, r.when.max_prompt_tokens ?? Infinity])),
    ),
    tokenCountBudgetMs: file.limits.token_count_budget_ms,
    state: { ...file.state, usage_log_max_entries: file.state.usage_log_max_entries ?? (file.state.kind === 'memory' ? 10_000 : 1_000_000) },
    logLevel: file.log_level,
    tracing: tracingOf(file.tracing),
    auth: { mode: file.auth.mode, cacheMs: file.auth.cache_ms, anonymousIdsPerDay: file.auth.anonymous_ids_per_day },
    keys,
    keysMissingEnv,
    teams: new Map(file.teams.map((t) => [t.name, { rpmLimit: t.rpm_limit ?? null, tpmLimit: t.tpm_limit ?? null, budgets: t.budgets }])),
    tierLimits: new Map(file.tier_limits.map((t) => [t.tier, { rpmLimit: t.rpm_limit ?? null, tpmLimit: t.tpm_limit ?? null, budgets: [] }])),
    tagBudgets,
    providerBudgets: byName(file.provider_budgets, (b) => b.provider, usdWindow),
    groupBudgets: byName(file.model_group_budgets, (b) => b.group, usdWindow),
    shedding: new Map(file.shedding.map((r) => [r.tier, { maxInFlight: r.max_in_flight, degradeTo: r.degrade_to ?? null }])),
    defaultMaxTokens: file.admission.default_max_tokens,
    onStoreFailure: { rateLimits: file.admission.on_store_failure.rate_limits, budgets: file.admission.on_store_failure.budgets },
    groups,
    virtualModels,
    deployments,
    clusters: new Map([...deployments.values()].map((d) => [d.cluster, d])),
  };
}

export interface TracingConfig {
  /** Where spans are POSTed: the endpoint's `/v1/traces`. */
  readonly tracesUrl: string;
  readonly sampleRatio: number;
  readonly serviceName: string;
  readonly exportIntervalMs: number;
  readonly maxQueuedSpans: number;
}

function tracingOf(t: RouterConfigFile['tracing']): TracingConfig | null {
  if (t.endpoint === undefined) return null;
  return {
    tracesUrl: `${t.endpoint.replace(/\/+$/, '')}/v1/traces`,
    sampleRatio: t.sample_ratio,
    serviceName: t.service_name,
    exportIntervalMs: t.export_interval_ms,
    maxQueuedSpans: t.max_queued_spans,
  };
}

/**
 * The shape of router.yaml. Every object is strict: a misspelt key is an error, not a silently
 * ignored setting. Names in the file are snake_case; `compile.ts` turns the validated file into the
 * precomputed runtime form the hot path reads.
 */
import { z } from 'zod';
import { WINDOWS } from '../admission/windows.js';
import { AUTH_STYLES } from '../providers/adapter.js';
import { CREDENTIAL_HEADERS } from '../providers/auth.js';
import { PROVIDER_NAMES, PROVIDERS } from '../providers/registry.js';
import { figuresOf } from './catalog.js';

const admin = z
  .strictObject({
    address: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9090),
    /**
     * An environment variable holding the admin API's bearer token. Set, every endpoint but
     * /healthz, /readyz and /metrics needs `Authorization: Bearer <token>`.
     */
    token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    /**
     * Without token_env those endpoints refuse everyone; `open: true` lets in whoever reaches the
     * port (a host no untrusted user or browser shares).
     */
    open: z.boolean().default(false),
    /**
     * Host names requests may address the API by, besides IP addresses, `localhost` and `address`
     * (e.g. a Service name a scraper uses). Any other `Host` is refused: that is how a DNS-rebinding page arrives.
     */
    allowed_hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name, without port')).default([]),
  })
  .refine((a) => !(a.open && a.token_env !== undefined), { message: 'set token_env or open: true, not both', path: ['open'] })
  .prefault({});

const price = z.strictObject({
  input_per_million: z.number().min(0),
  output_per_million: z.number().min(0),
  /** Price of prompt tokens served from the provider's prompt cache; defaults to the input price. */
  cached_input_per_million: z.number().min(0).optional(),
});

export const CAPABILITIES = ['chat', 'embeddings', 'completions', 'vision', 'tools', 'json', 'streaming'] as const;

const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name');

/** Where and how the provider is called; each field defaults to the provider's public API (providers/<name>/adapter.ts). */
const endpoint = z.strictObject({
  /** Path prefix of every call (`/v1`; Azure: `/openai/deployments/<provider_model>`). */
  base_path: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*$/, 'must be a path like /v1 or /openai/deployments/name: no trailing slash, query or spaces')
    .optional(),
  /** Query parameters on every call (Azure: `api-version`). Replace the provider's defaults. */
  query: z.record(z.string().regex(/^[A-Za-z0-9._~-]+$/, 'must be a plain query parameter name'), z.string()).optional(),
  /** The header the credential travels in. */
  auth: z.enum(AUTH_STYLES).optional(),
  /** Fixed headers on every call; never a credential header. */
  headers: z
    .record(headerName, z.string())
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if ((CREDENTIAL_HEADERS as readonly string[]).includes(name.toLowerCase())) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'is a credential header: set the credential with api_key_env or api_key_file' });
        }
      }
    })
    .optional(),
});

/** A secret from an environment variable or a file (a mounted Secret, read at start and every reload). */
const secretRef = z
  .strictObject({ env: z.string().min(1).optional(), file: z.string().min(1).optional() })
  .refine((r) => (r.env === undefined) !== (r.file === undefined), { message: 'set exactly one of env and file' });

/** `provider: bedrock`: the AWS key pair each attempt is signed with (SigV4), and its region. */
const aws = z.strictObject({
  region: z.string().regex(/^[a-z0-9-]+$/, 'must be an AWS region such as us-east-1'),
  access_key_id: secretRef,
  secret_access_key: secretRef,
  session_token: secretRef.optional(),
  /** The host signed for and called; the region's public endpoint by default. */
  host: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be a host name').optional(),
});

const deployment = z
  .strictObject({
  /** Names it in the fallback plan header (routing/plan.ts), metrics and records; its cluster's name unless `cluster` is set. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . - (it is the default cluster name and a token of the plan header)'),
  /**
   * The Envoy cluster that serves it, as a mesh or gateway names it (`outbound|443||api.openai.com`,
   * `httproute/default/llm/rule/0`): the value of the routing and hop headers, and how the router
   * knows the deployment from Envoy's `xds.cluster_name`. Any header-safe name.
   */
  cluster: z.string().regex(/^[\x21-\x7e]{1,1024}$/, 'must be an Envoy cluster name of printable characters without spaces (it travels in a header)').optional(),
  provider: z.enum(PROVIDER_NAMES),
  model_group: z.string().min(1),
  /** The model id the provider expects; the request's `model` is rewritten to it when they differ. */
  provider_model: z.string().min(1),
  /** Share of traffic for weighted-random. Unset in every deployment of a group: weights follow the RPM (else TPM) limits. */
  weight: z.number().positive().optional(),
  /** USD per 1M tokens; by default the model catalog's (config/catalog.ts). */
  price: price.optional(),
  /** Tokens; by default the model catalog's. */
  context_window: z.number().int().positive().optional(),
  capabilities: z.array(z.enum(CAPABILITIES)).default(['chat', 'streaming']),
  /** Name of the environment variable that holds the provider credential sent upstream. */
  api_key_env: z.string().min(1).optional(),
  /** A file holding the provider credential (a mounted Kubernetes Secret), read at start and at every reload. */
  api_key_file: z.string().min(1).optional(),
  aws: aws.optional(),
  endpoint: endpoint.optional(),
  /**
   * Client headers this deployment receives besides its provider's allowlist (providers/forwarded-headers.ts);
   * a name ending in `*` is a prefix. Every other client header is removed before the request goes upstream.
   */
  forward_headers: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9-]+\*?$/, 'must be a header name, or a prefix ending in *')
        .refine((h) => !CREDENTIAL_HEADERS.some((c) => (h.endsWith('*') ? c.startsWith(h.slice(0, -1).toLowerCase()) : c === h.toLowerCase())), 'would forward the client\'s API key: the credential headers are the gateway\'s'),
    )
    .default([]),
  /** Matched against the request's tags; `default` takes untagged traffic. */
  tags: z.array(z.string().min(1)).default([]),
  /** The pool this deployment belongs to, named in `routing.tiers` (e.g. `high`, `normal`). */
  tier: z.string().min(1).optional(),
  /** Relative answer quality in [0, 1] for the balanced strategy. */
  quality: z.number().min(0).max(1).default(0.5),
  /** The provider's limits for this deployment: requests and tokens per minute. */
  rpm_limit: z.number().int().positive().optional(),
  tpm_limit: z.number().int().positive().optional(),
})
  .refine((d) => d.api_key_env === undefined || d.api_key_file === undefined, { message: 'set api_key_env or api_key_file, not both', path: ['api_key_file'] })
  .superRefine((d, ctx) => {
    const signed = (d.endpoint?.auth ?? PROVIDERS[d.provider].defaults.auth) === 'aws-sigv4';
    if (signed && d.aws === undefined) ctx.addIssue({ code: 'custom', path: ['aws'], message: `provider ${d.provider} signs each request: set aws (region and key pair)` });
    if (!signed && d.aws !== undefined) ctx.addIssue({ code: 'custom', path: ['aws'], message: 'only for a deployment whose auth is aws-sigv4' });
    const figures = figuresOf(d);
    for (const field of ['price', 'context_window'] as const) {
      if (figures[field] === null) {
        const lacks = figures.inCatalog ? `has no ${field} for` : 'has no entry for';
        ctx.addIssue({ code: 'custom', path: [field], message: `required: the model catalog ${lacks} ${d.provider} model "${d.provider_model}"` });
      }
    }
    for (const endpoint of ['chat', 'embeddings', 'completions'] as const) {
      if (d.capabilities.includes(endpoint) && PROVIDERS[d.provider].paths[endpoint] === null) {
        ctx.addIssue({ code: 'custom', path: ['capabilities'], message: `provider ${d.provider} has no ${endpoint} API` });
      }
    }
  });

export const STRATEGY_KINDS = ['weighted-random', 'least-busy', 'latency-based', 'cost-based', 'usage-based', 'balanced'] as const;
export const BALANCE_PRESETS = ['balanced', 'cost-first', 'quality-first'] as const;

/** An OpenAI-compatible `/v1/embeddings` endpoint the router asks for vectors. */
const embeddingsEndpoint = z.strictObject({
  url: z.url(),
  model: z.string().min(1),
  api_key_env: z.string().min(1).optional(),
  timeout_ms: z.number().int().positive().default(300),
});

const modelGroup = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  strategy: z.enum(STRATEGY_KINDS).default('weighted-random'),
  /** Requests and tokens per sliding minute for the whole group, over every key (admission). */
  rpm_limit: z.number().int().positive().optional(),
  tpm_limit: z.number().int().positive().optional(),
  /**
   * Where a request goes when this group's deployments fail (5xx, 429, connection errors), in order,
   * after the group's other deployments. Envoy carries each attempt out; the router picks the hop.
   */
  fallbacks: z.array(z.string().min(1)).default([]),
  /** For prompts too long for every deployment here (counted up front), and after a provider's context-length error. */
  context_window_fallbacks: z.array(z.string().min(1)).default([]),
  /** After a provider's content-filter refusal. Empty: the cross-group `fallbacks` serve it. */
  content_policy_fallbacks: z.array(z.string().min(1)).default([]),
  /** latency-based: deployments within this fraction of the fastest share the traffic. */
  latency_tolerance: z.number().min(0).default(0.15),
  /** The exact response cache (src/cache/): present to turn it on for this group. */
  cache: z
    .strictObject({
      /** How long an answer is kept; each entry up to `ttl_jitter` of it less, so entries stored together do not expire together. */
      ttl_seconds: z.number().int().positive().default(300),
      ttl_jitter: z.number().min(0).max(1).default(0.1),
      /** Who shares entries: each virtual key alone, the key's team, or every caller. */
      namespace: z.enum(['key', 'team', 'global']).default('key'),
      /** The answer is the group's (any deployment's) or the deployment's the request is routed to. */
      key_by: z.enum(['group', 'deployment']).default('group'),
      /** Larger answers are not stored. */
      max_entry_bytes: z.number().int().positive().default(1_048_576),
      /** How long identical requests wait for the one that went to the provider, then go themselves. */
      wait_ms: z.number().int().min(0).default(10_000),
      /**
       * The semantic cache: a request whose last user message is close enough in meaning to a stored
       * one's, with everything else the same, gets its answer. The vectors come from `embeddings`
       * (Envoy's listener, so the embeddings deployment's credentials and TLS stay Envoy's).
       */
      semantic: z
        .strictObject({
          embeddings: embeddingsEndpoint,
          /** The cosine similarity a stored prompt needs to answer this one. */
          threshold: z.number().min(0).max(1).default(0.95),
          /** Each router keeps at most this many of the group's vectors, dropping the oldest. */
          max_entries: z.number().int().positive().default(100_000),
        })
        .optional(),
    })
    .optional(),
  /** balanced: the weights of quality, cost and latency, as a preset or explicitly. */
  balance: z
    .strictObject({
      preset: z.enum(BALANCE_PRESETS).default('balanced'),
      weights: z.strictObject({ quality: z.number().min(0), cost: z.number().min(0), latency: z.number().min(0) }).optional(),
      /** A request may pick another preset (header or `metadata.route_preference`). */
      allow_override: z.boolean().default(true),
    })
    .prefault({}),
});

const matcher = z.strictObject({
  /** The request has an image part (multimodal). */
  has_image: z.boolean().optional(),
  has_tools: z.boolean().optional(),
  min_prompt_tokens: z.number().int().positive().optional(),
  max_prompt_tokens: z.number().int().positive().optional(),
  /** Case-insensitive regular expression on the last user message. */
  regex: z.string().min(1).optional(),
  /** Any of these words or phrases in the last user message (case-insensitive). */
  keywords: z.array(z.string().min(1)).min(1).optional(),
  /** Exact values of the request's `metadata` fields. */
  metadata: z.record(z.string(), z.string()).optional(),
});

const virtualModel = z.strictObject({
  name: z.string().min(1),
  /** Where a request goes when no rule matches and no example is similar enough. */
  default_group: z.string().min(1),
  /** Checked in order; the first rule whose every condition holds decides. */
  rules: z.array(z.strictObject({ name: z.string().min(1).optional(), group: z.string().min(1), when: matcher })).default([]),
  /** Local similarity of the last user message to example utterances, after the rules. */
  semantic: z
    .strictObject({
      threshold: z.number().min(0).max(1).default(0.3),
      routes: z.array(z.strictObject({ group: z.string().min(1), examples: z.array(z.string().min(1)).min(1) })).min(1),
      /**
       * Compare embeddings from an OpenAI-compatible `/v1/embeddings` endpoint instead of the local
       * matcher (which stays the fallback when the endpoint fails or is slower than timeout_ms).
       */
      embeddings: embeddingsEndpoint.optional(),
    })
    .optional(),
});

const budget = z.strictObject({
  /** US dollars per window. */
  usd: z.number().positive(),
  window: z.enum(WINDOWS),
});

/** Limits a key, a team or a tag can carry. */
const limitFields = {
  rpm_limit: z.number().int().positive().optional(),
  tpm_limit: z.number().int().positive().optional(),
  budgets: z.array(budget).default([]),
};

/** SHA-256 (hex) of the key clients send. */
const keySha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');

/**
 * What a virtual key stands for, wherever it is defined: router.yaml's `keys` and the admin API's
 * `PUT /keys` (runtime keys) validate these fields with this one schema; only how the key itself is
 * given differs.
 */
export const virtualKeyFields = {
  /** Names the key in usage records, logs and metrics; the key itself never appears. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -'),
  team: z.string().min(1).optional(),
  /** Added to every request's tags. */
  tags: z.array(z.string().min(1)).default([]),
  /** The request's tier (routing.tiers); a tier header is ignored when keys are on. */
  tier: z.string().min(1).optional(),
  /** Models (groups or virtual models) the key may request; `*` for all. */
  models: z.array(z.string().min(1)).min(1).default(['*']),
  disabled: z.boolean().default(false),
  /** Balanced-strategy presets the key's requests may ask for (header or metadata); all by default. */
  route_preferences: z.array(z.enum(BALANCE_PRESETS)).optional(),
  /** Tags with a `tag_budgets` entry the key's requests may send (body or header) besides its own `tags`; others get 403. */
  allowed_tags: z.array(z.string().min(1)).default([]),
  /** Its requests may ask for `x-llm-router-decision` (`x-llm-router-debug: 1`, with `routing.decision_header`). */
  debug: z.boolean().default(false),
  /** Fallback hops and fallback groups may leave `models` (by default a request is served only by groups the key may request). */
  fallbacks_beyond_models: z.boolean().default(false),
  ...limitFields,
};

const virtualKey = z
  .strictObject({
    ...virtualKeyFields,
    key_sha256: keySha256.optional(),
    /** Or: an environment variable holding the key (hashed at load, then forgotten). */
    key_env: z.string().min(1).optional(),
  })
  .refine((k) => (k.key_sha256 === undefined) !== (k.key_env === undefined), { message: 'set exactly one of key_sha256 and key_env' });

/** A runtime key as `PUT /keys` takes it: the key itself (hashed at once, never stored) or its SHA-256. */
export const runtimeKey = z
  .strictObject({
    ...virtualKeyFields,
    key: z.string().min(8).optional(),
    key_sha256: keySha256.optional(),
  })
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), { message: 'set exactly one of key and key_sha256' });

const state = z
  .strictObject({
    kind: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: z.string().min(1).default('redis://127.0.0.1:6379'),
        key_prefix: z.string().default('llmr:'),
        command_timeout_ms: z.number().int().positive().default(500),
        /** Reads a request waits on (live load, admission, runtime keys); kept short so a stalled Redis costs little. */
        hot_path_timeout_ms: z.number().int().positive().default(50),
        /** Failures in a row that open the circuit breaker; while open, Redis is pinged this often. */
        breaker_threshold: z.number().int().positive().default(3),
        breaker_open_ms: z.number().int().positive().default(1000),
        /** Usage records and settlements kept while Redis is away, replayed when it is back. */
        max_queued_writes: z.number().int().positive().default(100_000),
      })
      .prefault({}),
    /**
     * The usage record log keeps at most this many entries (memory: a ring; Redis: approximate
     * stream trim). Default: 10,000 in memory, where each record costs the router's heap about
     * 0.6 KB; 1,000,000 in Redis. Per-day aggregates are kept whole either way.
     */
    usage_log_max_entries: z.number().int().positive().optional(),
    /** Latency per deployment: the mean of its newest samples, each counted for at most max_age_ms. */
    latency_samples: z.number().int().positive().default(20),
    latency_max_age_ms: z.number().int().positive().default(60_000),
  })
  .prefault({});

export const routerConfigSchema = z
  .strictObject({
    server: z
      .strictObject({
        grpc: z
          .strictObject({
            address: z.string().min(1).default('127.0.0.1'),
            port: z.number().int().min(0).max(65535).default(50051),
            /** Listen on this Unix domain socket instead of address:port (Envoy: a `pipe` address). */
            socket: z.string().min(1).optional(),
            /** Extra @grpc/grpc-js server options, e.g. `grpc.enable_channelz: 1` to turn channelz back on; they override the router's. */
            options: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
          })
          .prefault({}),
        admin,
        /** After SIGTERM, open streams get this long to finish before they are cut. */
        shutdown_grace_ms: z.number().int().min(0).default(15_000),
      })
      .prefault({}),
    routing: z
      .strictObject({
        /** Must match `cluster_header` of the route in envoy.yaml. */
        cluster_header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').default('x-llm-cluster'),
        /** Comma-separated request tags, added to the body's `tags` / `metadata.tags`. */
        tags_header: z.string().regex(/^[a-z0-9-]+$/).default('x-llm-tags'),
        /** The request's tier (until virtual keys carry it: trusted networks only). */
        tier_header: z.string().regex(/^[a-z0-9-]+$/).default('x-llm-tier'),
        default_tier: z.string().min(1).optional(),
        /** Priority tiers: the deployment pools each may use, in order of preference. */
        tiers: z.array(z.strictObject({ name: z.string().min(1), pools: z.array(z.string().min(1)).min(1) })).default([]),
        /** A balanced-strategy preset chosen per request. */
        preference_header: z.string().regex(/^[a-z0-9-]+$/).default('x-llm-route-preference'),
        /**
         * A deployment is skipped for this long after a 429 without `Retry-After` (with one, until the
         * time it names) and after `allowed_fails` failures in a row (5xx, connection errors) within `allowed_fails_window_ms`.
         */
        cooldown_ms: z.number().int().min(0).default(5_000),
        allowed_fails: z.number().int().positive().default(3),
        allowed_fails_window_ms: z.number().int().positive().default(60_000),
        /**
         * Envoy's admin address (http://127.0.0.1:9901): the router reads which deployments Envoy has
         * ejected or found unhealthy every `health_poll_ms`, and routes around them until they recover.
         */
        envoy_admin_url: z.url().optional(),
        health_poll_ms: z.number().int().positive().default(1_000),
        /**
         * Read providers' `x-ratelimit-*` response headers, so usage-based routing and the rate-limit
         * filter see the provider's own remaining requests and tokens. Costs one ext_proc message per
         * request (the response-headers phase, turned on per request).
         */
        provider_limit_headers: z.boolean().default(false),
        /** Answer `x-llm-router-debug: 1` requests with the decision summarised in `x-llm-router-decision`. */
        decision_header: z.boolean().default(false),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Bodies above this get a 413 from the router; keep Envoy's buffer limit above it. */
        max_request_body_bytes: z.number().int().positive().default(4 * 1024 * 1024),
        /** Tags a request may send (body `tags`, `metadata.tags` and the tags header together), and their length; over either, 400. */
        max_tags: z.number().int().positive().default(16),
        max_tag_length: z.number().int().positive().default(64),
        /**
         * The longest a prompt is counted in tokens (from when its count is asked for, waiting for its
         * turn included); the rest of it counts one token a byte. Prose counts at 0.1–0.25 µs a byte,
         * text made to be costly at up to ~0.5 µs (bench/token-count.ts): the default counts about
         * 1–2.5 MB of prose exactly.
         */
        token_count_budget_ms: z.number().int().nonnegative().default(250),
        /**
         * Overload shedding at the request-headers phase: past either bound a new request gets 503
         * `overloaded` with Retry-After at once, instead of waiting for Envoy's message timeout.
         * `in_flight`: requests whose stream is open without a routing decision yet. Protected tiers
         * (the virtual key's tier, or routing.default_tier; never a header) use the higher bounds.
         */
        overload: z
          .strictObject({
            max_event_loop_lag_ms: z.number().int().positive().default(1000),
            max_in_flight: z.number().int().positive().default(256),
            protected_tiers: z.array(z.string().min(1)).default([]),
            protected_max_event_loop_lag_ms: z.number().int().positive().default(1500),
            protected_max_in_flight: z.number().int().positive().default(1024),
            retry_after_s: z.number().int().positive().default(1),
          })
          .prefault({})
          .refine((o) => o.protected_max_event_loop_lag_ms >= o.max_event_loop_lag_ms && o.protected_max_in_flight >= o.max_in_flight, {
            message: 'the protected bounds must be at least the ordinary ones',
          }),
      })
      .prefault({}),
    state: state,
    auth: z
      .strictObject({
        /** `keys`: every request needs a virtual key (Authorization: Bearer, or x-api-key). */
        mode: z.enum(['off', 'keys']).default('off'),
        /** How long a key looked up in the state store (or found missing there) is remembered. */
        cache_ms: z.number().int().min(0).default(5_000),
        /**
         * With keys off: how many distinct presented tokens a router process counts under their own
         * usage id each UTC day (a hash prefix); 0, and past the limit, they count as `anonymous`.
         */
        anonymous_ids_per_day: z.number().int().min(0).default(0),
      })
      .prefault({}),
    keys: z.array(virtualKey).default([]),
    teams: z.array(z.strictObject({ name: z.string().min(1), ...limitFields })).default([]),
    /** Requests and tokens per sliding minute shared by every request of a tier. */
    tier_limits: z.array(z.strictObject({ tier: z.string().min(1), rpm_limit: z.number().int().positive().optional(), tpm_limit: z.number().int().positive().optional() })).default([]),
    /** Spend limits per provider and per model group: routing avoids deployments whose budget is spent. */
    provider_budgets: z.array(z.strictObject({ provider: z.string().min(1), usd: z.number().positive(), window: z.enum(WINDOWS) })).default([]),
    model_group_budgets: z.array(z.strictObject({ group: z.string().min(1), usd: z.number().positive(), window: z.enum(WINDOWS) })).default([]),
    /**
     * Tags clients may send that usage totals count, besides the tags of keys, deployments and
     * tag_budgets: any other tag a client sends routes (deployment tags) but is not counted.
     */
    known_tags: z.array(z.string().min(1)).default([]),
    /** Budgets shared by every request carrying the tag. */
    tag_budgets: z.array(z.strictObject({ tag: z.string().min(1), usd: z.number().positive(), window: z.enum(WINDOWS) })).default([]),
    /**
     * Load shedding (seed 003): when a model group holds this many requests in flight (all replicas),
     * new requests of the tier are refused with 503 — or sent to a cheaper group when `degrade_to` is set.
     * Tiers not listed are never shed.
     */
    shedding: z.array(z.strictObject({ tier: z.string().min(1), max_in_flight: z.number().int().positive(), degrade_to: z.string().min(1).optional() })).default([]),
    admission: z
      .strictObject({
        /** Tokens reserved for the completion when a request sets no max_tokens (TPM and budgets). */
        default_max_tokens: z.number().int().positive().default(1024),
        /**
         * When the state store cannot be asked (Redis down or slow): `open` lets requests through
         * unmetered, `closed` refuses them with 503. Rate limits and budgets may differ.
         */
        on_store_failure: z
          .strictObject({ rate_limits: z.enum(['open', 'closed']).default('open'), budgets: z.enum(['open', 'closed']).default('open') })
          .prefault({}),
      })
      .prefault({}),
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    /**
     * Spans of each sampled request (routing decision, admission, attempts, response accounting),
     * children of Envoy's span, sent to an OpenTelemetry collector over OTLP/HTTP. Off without `endpoint`.
     */
    tracing: z
      .strictObject({
        /** The collector's OTLP/HTTP base URL (its traces go to `<endpoint>/v1/traces`), e.g. http://127.0.0.1:4318. */
        endpoint: z.url().optional(),
        /** Of the requests Envoy samples (or that arrive without a trace), the share the router traces, by trace id. */
        sample_ratio: z.number().min(0).max(1).default(1),
        service_name: z.string().min(1).default('llm-router'),
        /** How often queued spans are sent; a batch of 512 goes at once. */
        export_interval_ms: z.number().int().positive().default(1_000),
        /** Spans waiting to be sent, at most; past it new ones are dropped (a collector down costs no more memory). */
        max_queued_spans: z.number().int().positive().default(8_192),
      })
      .prefault({}),
    model_groups: z.array(modelGroup).min(1),
    virtual_models: z.array(virtualModel).default([]),
    deployments: z.array(deployment).min(1),
  })
  .superRefine((cfg, ctx) => {
    const groups = new Set<string>();
    cfg.model_groups.forEach((g, i) => {
      if (groups.has(g.name)) ctx.addIssue({ code: 'custom', path: ['model_groups', i, 'name'], message: `duplicate model group "${g.name}"` });
      groups.add(g.name);
    });
    const names = new Set<string>();
    const clusters = new Map<string, string>();
    const used = new Set<string>();
    cfg.deployments.forEach((d, i) => {
      if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: ['deployments', i, 'name'], message: `duplicate deployment "${d.name}"` });
      names.add(d.name);
      // The router knows which deployment an attempt went to only by the cluster Envoy reports.
      const cluster = d.cluster ?? d.name;
      const sharing = clusters.get(cluster);
      if (sharing !== undefined && sharing !== d.name) {
        ctx.addIssue({ code: 'custom', path: ['deployments', i, d.cluster === undefined ? 'name' : 'cluster'], message: `cluster "${cluster}" already serves deployment "${sharing}": each deployment needs a cluster of its own` });
      }
      clusters.set(cluster, d.name);
      if (!groups.has(d.model_group)) {
        ctx.addIssue({ code: 'custom', path: ['deployments', i, 'model_group'], message: `unknown model group "${d.model_group}"` });
      }
      used.add(d.model_group);
    });
    cfg.virtual_models.forEach((v, i) => {
      if (groups.has(v.name)) ctx.addIssue({ code: 'custom', path: ['virtual_models', i, 'name'], message: `"${v.name}" is already a model group` });
      const check = (group: string, path: (string | number)[]) => {
        if (!groups.has(group)) ctx.addIssue({ code: 'custom', path: ['virtual_models', i, ...path], message: `unknown model group "${group}"` });
      };
      check(v.default_group, ['default_group']);
      v.rules.forEach((r, j) => {
        check(r.group, ['rules', j, 'group']);
        if (r.when.regex !== undefined) {
          try {
            new RegExp(r.when.regex, 'i');
          } catch (err) {
            ctx.addIssue({ code: 'custom', path: ['virtual_models', i, 'rules', j, 'when', 'regex'], message: (err as Error).message });
          }
        }
      });
      v.semantic?.routes.forEach((r, j) => check(r.group, ['semantic', 'routes', j, 'group']));
    });
    cfg.model_groups.forEach((g, i) => {
      for (const field of ['fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'] as const) {
        g[field].forEach((f, j) => {
          if (!groups.has(f)) ctx.addIssue({ code: 'custom', path: ['model_groups', i, field, j], message: `unknown model group "${f}"` });
          if (f === g.name) ctx.addIssue({ code: 'custom', path: ['model_groups', i, field, j], message: 'a group cannot fall back to itself' });
        });
      }
    });
    cfg.shedding.forEach((r, i) => {
      if (r.degrade_to !== undefined && !groups.has(r.degrade_to)) ctx.addIssue({ code: 'custom', path: ['shedding', i, 'degrade_to'], message: `unknown model group "${r.degrade_to}"` });
    });
    const keyNames = new Set<string>();
    cfg.keys.forEach((k, i) => {
      if (keyNames.has(k.name)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'name'], message: `duplicate key "${k.name}"` });
      keyNames.add(k.name);
    });
    const pools = new Set(cfg.deployments.flatMap((d) => (d.tier === undefined ? [] : [d.tier])));
    cfg.routing.tiers.forEach((t, i) =>
      t.pools.forEach((pool, j) => {
        if (!pools.has(pool)) ctx.addIssue({ code: 'custom', path: ['routing', 'tiers', i, 'pools', j], message: `no deployment has tier "${pool}"` });
      }),
    );
    cfg.model_groups.forEach((g, i) => {
      if (!used.has(g.name)) ctx.addIssue({ code: 'custom', path: ['model_groups', i], message: `model group "${g.name}" has no deployments` });
    });
  });

export type RouterConfigFile = z.infer<typeof routerConfigSchema>;
export type DeploymentFile = z.infer<typeof deployment>;
export type Capability = (typeof CAPABILITIES)[number];
export type StrategyKind = (typeof STRATEGY_KINDS)[number];
export type BalancePreset = (typeof BALANCE_PRESETS)[number];
export type VirtualModelFile = z.infer<typeof virtualModel>;
export type MatcherFile = z.infer<typeof matcher>;
export type VirtualKeyFile = z.input<typeof virtualKey>;
export type BudgetFile = z.infer<typeof budget>;

/**
 * The shape of router.yaml. Every object is strict: a misspelt key is an error, not a silently
 * ignored setting. Names in the file are snake_case; `compile.ts` turns the validated file into the
 * precomputed runtime form the hot path reads.
 */
import { z } from 'zod';

const listenAddress = (defaultPort: number) =>
  z
    .strictObject({
      address: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(defaultPort),
    })
    .prefault({});

const price = z.strictObject({
  input_per_million: z.number().min(0),
  output_per_million: z.number().min(0),
  /** Price of prompt tokens served from the provider's prompt cache; defaults to the input price. */
  cached_input_per_million: z.number().min(0).optional(),
});

export const CAPABILITIES = ['chat', 'vision', 'tools', 'json', 'streaming'] as const;

const deployment = z.strictObject({
  /** The Envoy cluster that serves this deployment; the router writes it into the routing header. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a valid Envoy cluster name: letters, digits, _ . -'),
  provider: z.enum(['openai', 'azure-openai', 'vllm', 'openai-compatible']),
  model_group: z.string().min(1),
  /** The model id the provider expects; the request's `model` is rewritten to it when they differ. */
  provider_model: z.string().min(1),
  weight: z.number().positive().default(1),
  price: price,
  context_window: z.number().int().positive(),
  capabilities: z.array(z.enum(CAPABILITIES)).default(['chat', 'streaming']),
  /** Name of the environment variable that holds the provider credential sent upstream. */
  api_key_env: z.string().min(1).optional(),
});

const modelGroup = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  strategy: z.enum(['weighted-random']).default('weighted-random'),
});

const state = z
  .strictObject({
    kind: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: z.string().min(1).default('redis://127.0.0.1:6379'),
        key_prefix: z.string().default('llmr:'),
        command_timeout_ms: z.number().int().positive().default(500),
      })
      .prefault({}),
    /**
     * The usage record log keeps at most this many entries (memory: a ring; Redis: approximate
     * stream trim). Default: 10,000 in memory, where each record costs the router's heap about
     * 0.6 KB; 1,000,000 in Redis. Per-day aggregates are kept whole either way.
     */
    usage_log_max_entries: z.number().int().positive().optional(),
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
        admin: listenAddress(9090),
        /** After SIGTERM, open streams get this long to finish before they are cut. */
        shutdown_grace_ms: z.number().int().min(0).default(15_000),
      })
      .prefault({}),
    routing: z
      .strictObject({
        /** Must match `cluster_header` of the route in envoy.yaml. */
        cluster_header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').default('x-llm-cluster'),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Bodies above this get a 413 from the router; keep Envoy's buffer limit above it. */
        max_request_body_bytes: z.number().int().positive().default(4 * 1024 * 1024),
      })
      .prefault({}),
    state: state,
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    model_groups: z.array(modelGroup).min(1),
    deployments: z.array(deployment).min(1),
  })
  .superRefine((cfg, ctx) => {
    const groups = new Set<string>();
    cfg.model_groups.forEach((g, i) => {
      if (groups.has(g.name)) ctx.addIssue({ code: 'custom', path: ['model_groups', i, 'name'], message: `duplicate model group "${g.name}"` });
      groups.add(g.name);
    });
    const names = new Set<string>();
    const used = new Set<string>();
    cfg.deployments.forEach((d, i) => {
      if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: ['deployments', i, 'name'], message: `duplicate deployment "${d.name}"` });
      names.add(d.name);
      if (!groups.has(d.model_group)) {
        ctx.addIssue({ code: 'custom', path: ['deployments', i, 'model_group'], message: `unknown model group "${d.model_group}"` });
      }
      used.add(d.model_group);
    });
    cfg.model_groups.forEach((g, i) => {
      if (!used.has(g.name)) ctx.addIssue({ code: 'custom', path: ['model_groups', i], message: `model group "${g.name}" has no deployments` });
    });
  });

export type RouterConfigFile = z.infer<typeof routerConfigSchema>;
export type DeploymentFile = z.infer<typeof deployment>;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * How a mock provider instance answers. Set per instance in the mock config, changed at runtime
 * with `PUT /_mock/behaviour`, or per request with `x-mock-*` headers (header wins).
 */
import { z } from 'zod';

export const behaviourSchema = z.strictObject({
  /** HTTP status for chat requests; non-2xx answers carry an OpenAI error body. */
  status: z.number().int().min(100).max(599).default(200),
  /** Seconds (or an HTTP-date) sent in `Retry-After` with an error status. */
  retry_after: z.string().optional(),
  /** `error.code` of an error answer, e.g. `content_filter` or `context_length_exceeded`. */
  error_code: z.string().optional(),
  /** Delay before a JSON response is sent (non-streaming). */
  latency_ms: z.number().int().min(0).default(0),
  /** Delay before the first SSE chunk. */
  ttft_ms: z.number().int().min(0).default(0),
  /** Delay between SSE chunks. */
  chunk_interval_ms: z.number().int().min(0).default(0),
  /** Content chunks in a completion; each is one completion token. */
  chunks: z.number().int().min(1).default(10),
  /** Cut the stream after this many content chunks. */
  cut_after_chunks: z.number().int().min(0).optional(),
  /** How: `reset` the connection, or `close` the response cleanly with no `[DONE]` (a cut that looks like an end). */
  cut_mode: z.enum(['reset', 'close']).default('reset'),
  /**
   * Send one event that is not JSON (an HTML error page) after this many content chunks, in one write
   * with the event after it, then go on; equal to `chunks`: after the usage event, just before `[DONE]`.
   */
  malformed_after_chunks: z.number().int().min(0).optional(),
  /** Stop sending, but keep the connection open, after this many content chunks. */
  stall_after_chunks: z.number().int().min(0).optional(),
  /** Provider limits per minute, reported in the format's headers (OpenAI's `x-ratelimit-*`, …), 429 once spent. */
  limit_requests_per_minute: z.number().int().positive().optional(),
  /** Prompt and completion tokens together. */
  limit_tokens_per_minute: z.number().int().positive().optional(),
  /** Anthropic's separate input and output windows (`anthropic-ratelimit-{input,output}-tokens-*`); other formats enforce them without reporting them. */
  limit_input_tokens_per_minute: z.number().int().positive().optional(),
  limit_output_tokens_per_minute: z.number().int().positive().optional(),
  /** Status of `GET /health`, for Envoy's active health checks. */
  health_status: z.number().int().min(100).max(599).default(200),
});

export type Behaviour = z.infer<typeof behaviourSchema>;

export const instanceSchema = z.strictObject({
  name: z.string().min(1),
  address: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
  behaviour: behaviourSchema.prefault({}),
  /**
   * Behaviour changes for requests naming a model: what every gateway passes through, where
   * `x-mock-*` headers may be dropped (the benchmark's peers do).
   */
  models: z.record(z.string(), behaviourSchema.partial()).default({}),
  /** The wire format this instance speaks: its paths, credential header, request checks, errors and answers. */
  format: z.enum(['openai', 'azure-openai', 'anthropic', 'bedrock', 'gemini']).default('openai'),
  /**
   * Reject what the real API rejects (unknown parameters, missing or mistyped fields, wrong or
   * missing credential, wrong path or version) with the provider's status and error body. Default:
   * on for every format but `openai` (routers that forward their own fields
   * still reach it).
   */
  strict: z.boolean().optional(),
  /** The credential a strict instance expects (Bearer token, `api-key`, `x-api-key`, `x-goog-api-key`); any non-empty one when absent. */
  api_key: z.string().min(1).optional(),
  /** `bedrock`: the key pair and region every request's SigV4 signature is checked with. */
  aws: z
    .strictObject({
      access_key_id: z.string().min(1),
      secret_access_key: z.string().min(1),
      session_token: z.string().min(1).optional(),
      region: z.string().min(1),
    })
    .default({ access_key_id: 'AKIAMOCKBEDROCK', secret_access_key: 'mock-bedrock-secret', region: 'us-east-1' }),
  /** `azure-openai`: the deployment names it serves (others: 404 DeploymentNotFound); any when absent. */
  deployments: z.array(z.string().min(1)).optional(),
});

export const mockConfigSchema = z.strictObject({ instances: z.array(instanceSchema).min(1) });

export type MockInstanceConfig = z.input<typeof instanceSchema>;

const HEADER_FIELDS: ReadonlyArray<[header: string, field: keyof Behaviour]> = [
  ['x-mock-status', 'status'],
  ['x-mock-latency-ms', 'latency_ms'],
  ['x-mock-ttft-ms', 'ttft_ms'],
  ['x-mock-chunk-interval-ms', 'chunk_interval_ms'],
  ['x-mock-chunks', 'chunks'],
  ['x-mock-cut-after-chunks', 'cut_after_chunks'],
  ['x-mock-stall-after-chunks', 'stall_after_chunks'],
];

/** The instance behaviour with any `x-mock-*` request headers applied. */
export function behaviourFor(base: Behaviour, headers: Readonly<Record<string, string | string[] | undefined>>): Behaviour {
  let out: Behaviour | null = null;
  for (const [header, field] of HEADER_FIELDS) {
    const v = headers[header];
    if (typeof v !== 'string') continue;
    out ??= { ...base };
    (out as Record<string, unknown>)[field] = Number(v);
  }
  const retryAfter = headers['x-mock-retry-after'];
  if (typeof retryAfter === 'string') {
    out ??= { ...base };
    out.retry_after = retryAfter;
  }
  return out ?? base;
}

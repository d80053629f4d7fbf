/**
 * The router's metrics, rendered by prom-client at the admin server's /metrics (serve.ts builds the
 * registry: these, the gauges of gauges.ts, and prom-client's process and event-loop metrics).
 *
 * Requests served are measured in the OpenTelemetry GenAI semantic conventions, named as the
 * OpenTelemetry → Prometheus mapping writes them (dots to underscores, the unit as a suffix):
 * `gen_ai.client.token.usage` → gen_ai_client_token_usage, `gen_ai.server.request.duration` →
 * gen_ai_server_request_duration_seconds, and so on, with the conventions' bucket boundaries. Every
 * label value comes from the config (deployment, group, provider, model names) or a fixed set
 * (endpoint, status, reasons); never from what a client sent.
 */
import type { Deployment } from '../config/compile.js';
import type { Decision, Endpoint } from '../routing/types.js';
import type { UsageRecord } from '../state/store.js';
import { CounterFamily, HistogramFamily, type CounterCell, type HistogramCell, type RegistryMetric } from './series.js';

/** `gen_ai.provider.name` for each provider kind (the conventions' well-known values where one exists). */
export const GEN_AI_PROVIDER: Readonly<Record<string, string>> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  bedrock: 'aws.bedrock',
  vllm: 'vllm',
  'openai-compatible': 'openai',
};

/** `gen_ai.operation.name` of each endpoint the router routes. */
export const GEN_AI_OPERATION: Readonly<Record<Endpoint, string>> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings', count_tokens: 'count_tokens' };

// Bucket boundaries the GenAI conventions advise for each instrument.
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

const GEN_AI_LABELS = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model', 'deployment', 'model_group'] as const;

/**
 * A provider's reported response models kept apart per series before the rest fold into `_OTHER`
 * (the conventions' overflow value): a provider names a handful (a dated snapshot of the model), but
 * it is not the config, so the label set stays bounded whatever it answers.
 */
const MAX_RESPONSE_MODELS = 4;
const OTHER = '_OTHER';

/** The series one (operation, deployment, requested model, group, response model) records on, bound once. */
class ServedSeries {
  readonly input: HistogramCell;
  readonly output: HistogramCell;
  readonly ttft: HistogramCell;
  readonly perOutputToken: HistogramCell;
  readonly cost: CounterCell;
  private readonly durations = new Map<number, HistogramCell>();

  constructor(
    private readonly m: RoutingMetrics,
    private readonly labels: readonly string[],
  ) {
    this.input = m.tokenUsage.child(...labels, 'input');
    this.output = m.tokenUsage.child(...labels, 'output');
    this.ttft = m.timeToFirstToken.child(...labels);
    this.perOutputToken = m.timePerOutputToken.child(...labels);
    this.cost = m.cost.child(...labels);
  }

  /** The duration series of a status: `error_type` is the status of a failed request, empty for a success. */
  duration(status: number): HistogramCell {
    let cell = this.durations.get(status);
    if (cell === undefined) {
      cell = this.m.requestDuration.child(...this.labels, status >= 400 || status === 0 ? String(status) : '');
      this.durations.set(status, cell);
    }
    return cell;
  }
}

/** Response model → series, with the overflow series. */
type ByResponseModel = Map<string, ServedSeries>;

/** The router's metrics: what was decided, why deployments were left out, attempts, cooldowns, reloads, and what was served. */
export class RoutingMetrics {
  readonly routed = new CounterFamily('llm_router_routed_total', 'Requests routed, by model group, strategy and chosen deployment.', ['group', 'strategy', 'deployment']);
  readonly excluded = new CounterFamily('llm_router_excluded_total', 'Deployments excluded from a routing decision, by reason.', ['group', 'deployment', 'reason']);
  readonly unroutable = new CounterFamily('llm_router_unroutable_total', 'Requests no deployment of their group could take.', ['group']);
  readonly classified = new CounterFamily('llm_router_classified_total', 'Virtual-model requests, by the group chosen and how.', ['virtual_model', 'group', 'by']);
  readonly shed = new CounterFamily('llm_router_shed_total', 'Requests shed for load, by tier and group: refused (503) or degraded to another group.', ['tier', 'group', 'action']);
  readonly overloaded = new CounterFamily(
    'llm_router_overloaded_total',
    'Requests refused (503 overloaded) at the request-headers phase because the router was behind, by tier and reason (event_loop_lag, in_flight).',
    ['tier', 'reason'],
  );
  readonly attempts = new CounterFamily(
    'llm_router_attempts_total',
    'Attempts Envoy made, by deployment, whether it was the first or a fallback hop, and result (ok, refused, rate_limited, failed, or the fallback reason).',
    ['deployment', 'hop', 'result'],
  );
  readonly cooldowns = new CounterFamily('llm_router_cooldowns_total', 'Cooldowns started, by deployment and cause (retry_after, rate_limited, failures).', ['deployment', 'cause']);
  readonly reloads = new CounterFamily('llm_router_config_reloads_total', 'Config reloads (SIGHUP or the admin API), by result (ok, refused: the running config kept).', ['result']);
  readonly decisionSeconds = new HistogramFamily(
    'llm_router_decision_seconds',
    'From the request body reaching the router to its reply to Envoy: validation, state-store reads, routing and admission.',
    [],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  readonly cache = new CounterFamily('llm_router_cache_requests_total', 'Requests to a group that caches, by what the cache did: hit (exact or semantic), miss (went to the provider) or bypass (opted out, or the store out of reach).', ['group', 'result']);
  readonly cacheSaved = new CounterFamily('llm_router_cache_saved_nanos_total', 'What cache hits saved: the provider cost of the stored answers, in nano-USD.', ['group']);
  readonly decision = this.decisionSeconds.child();
  readonly requests = new CounterFamily(
    'llm_router_requests_total',
    'Requests ended, by endpoint (chat, completions, embeddings, count_tokens, models, other) and the status the client got.',
    ['endpoint', 'status'],
  );
  readonly refused = new CounterFamily(
    'llm_router_refused_total',
    "Requests the router answered itself with an error, by its code (budget_exceeded, rate_limited, overloaded, invalid_api_key, …): admission refusals and the client's mistakes.",
    ['reason'],
  );
  readonly tokenUsage = new HistogramFamily('gen_ai_client_token_usage', 'Tokens per request (gen_ai.client.token.usage), by token type: input (the prompt) and output (the completion).', [...GEN_AI_LABELS, 'gen_ai_token_type'], TOKEN_BUCKETS);
  readonly requestDuration = new HistogramFamily(
    'gen_ai_server_request_duration_seconds',
    'From the request reaching the router to the last byte of its response (gen_ai.server.request.duration); error_type: the status of a failed request.',
    [...GEN_AI_LABELS, 'error_type'],
    DURATION_BUCKETS,
  );
  readonly timeToFirstToken = new HistogramFamily('gen_ai_server_time_to_first_token_seconds', 'Streams: from the request reaching the router to the first body bytes of its response (gen_ai.server.time_to_first_token).', GEN_AI_LABELS, TTFT_BUCKETS);
  readonly timePerOutputToken = new HistogramFamily(
    'gen_ai_server_time_per_output_token_seconds',
    'Streams: the time after the first token divided by the output tokens after it (gen_ai.server.time_per_output_token).',
    GEN_AI_LABELS,
    TPOT_BUCKETS,
  );
  readonly cost = new CounterFamily('llm_router_cost_usd_total', 'What requests served cost, in US dollars, at the deployment\'s configured prices.', GEN_AI_LABELS);

  /** Bound series by deployment, operation, requested model and group: nested so a lookup builds no key. */
  private readonly served = new Map<string, Map<string, Map<string, Map<string, ByResponseModel>>>>();
  /** Bound request counters, by endpoint and status. */
  private readonly requestCells = new Map<string, Map<number, CounterCell>>();

  /** Everything the registry renders. */
  all(): readonly RegistryMetric[] {
    return [
      this.requests, this.refused, this.tokenUsage, this.requestDuration, this.timeToFirstToken, this.timePerOutputToken, this.cost,
      this.routed, this.excluded, this.unroutable, this.classified, this.shed, this.overloaded, this.attempts, this.cooldowns, this.cache, this.cacheSaved, this.reloads, this.decisionSeconds,
    ];
  }

  /**
   * Puts each deployment's failed-attempt series at zero before its first failure. Prometheus's
   * rate() sees no increase into a series' first sample, so without it a deployment's first burst
   * of failures (until Envoy ejects it) would not count in its error ratio, and the error-ratio
   * alert would wait a scrape interval or an ejection for the next burst.
   */
  expectDeployments(deployments: Iterable<string>): void {
    for (const deployment of deployments) {
      for (const hop of ['first', 'fallback']) this.attempts.child(deployment, hop, 'failed');
    }
  }

  /** A request the router answered itself, or that ended without reaching a deployment. `endpoint`: a fixed name. */
  answered(endpoint: string, status: number, errorCode: string | undefined): void {
    this.request(endpoint, status).inc();
    if (errorCode !== undefined) this.refused.inc({ reason: errorCode });
  }

  /** A request a deployment served (or failed), as its usage record tells it. */
  recordServed(endpoint: Endpoint, decision: Decision | null, d: Deployment, record: UsageRecord): void {
    this.request(endpoint, record.status).inc();
    const group = decision === null || decision.outcome === 'unknown_model' ? '' : decision.group.name;
    const s = this.seriesOf(endpoint, group, d, record.requestedModel, record.responseModel);
    s.duration(record.status).observe(record.latencyMs / 1000);
    s.cost.inc(record.costNanos / 1e9);
    if (record.totalTokens > 0) {
      s.input.observe(record.promptTokens);
      if (endpoint !== 'embeddings') s.output.observe(record.completionTokens);
    }
    const ttft = record.ttftMs;
    if (!record.stream || ttft === null) return;
    s.ttft.observe(ttft / 1000);
    if (record.completionTokens > 1) s.perOutputToken.observe((record.latencyMs - ttft) / 1000 / (record.completionTokens - 1));
  }

  private request(endpoint: string, status: number): CounterCell {
    let byStatus = this.requestCells.get(endpoint);
    if (byStatus === undefined) this.requestCells.set(endpoint, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (cell === undefined) byStatus.set(status, (cell = this.requests.child(endpoint, String(status))));
    return cell;
  }

  private seriesOf(endpoint: Endpoint, group: string, d: Deployment, requestedModel: string, responseModel: string | null): ServedSeries {
    const byEndpoint = child(this.served, d.name);
    const byModel = child(byEndpoint, endpoint);
    const byGroup = child(byModel, requestedModel);
    let byResponse = byGroup.get(group);
    if (byResponse === undefined) byGroup.set(group, (byResponse = new Map()));
    const response = responseModel ?? d.providerModel;
    const known = byResponse.get(response);
    if (known !== undefined) return known;
    // Past the bound, every other response model shares one series (kept under OTHER only).
    const label = byResponse.size < MAX_RESPONSE_MODELS ? response : OTHER;
    let s = byResponse.get(label);
    if (s === undefined) {
      s = new ServedSeries(this, [GEN_AI_OPERATION[endpoint], GEN_AI_PROVIDER[d.provider] ?? d.provider, requestedModel, label, d.name, group]);
      byResponse.set(label, s);
    }
    return s;
  }
}

function child<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) map.set(key, (inner = new Map()));
  return inner;
}

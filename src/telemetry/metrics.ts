/**
 * Prometheus counters, rendered in the text exposition format at the admin server's /metrics.
 * A counter keeps one number per label combination; the label key is built once per increment.
 */

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Counter<L extends string> {
  private readonly values = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: readonly L[],
  ) {}

  inc(labels: Readonly<Record<L, string>>, by = 1): void {
    let key = '';
    for (const l of this.labels) key += `${key === '' ? '' : ','}${l}="${escape(labels[l])}"`;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  /** The value for exactly these labels (tests and the admin API). */
  get(labels: Readonly<Record<L, string>>): number {
    let key = '';
    for (const l of this.labels) key += `${key === '' ? '' : ','}${l}="${escape(labels[l])}"`;
    return this.values.get(key) ?? 0;
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [key, v] of this.values) out += `${this.name}{${key}} ${v}\n`;
    return out;
  }
}

/**
 * A Prometheus histogram without labels: fixed upper bounds (seconds), one count per bucket, the
 * sum and the count. Observing costs a short scan and three additions; nothing is allocated.
 */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = bounds.map(() => 0);
  }

  observe(seconds: number): void {
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]!) {
        this.counts[i]! += 1;
        break;
      }
    }
    this.sum += seconds;
    this.count += 1;
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out += `${this.name}_bucket{le="${this.bounds[i]}"} ${cumulative}\n`;
    }
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/** The router's metrics: what was decided, why deployments were left out, attempts, cooldowns, reloads. */
export class RoutingMetrics {
  readonly routed = new Counter('llm_router_routed_total', 'Requests routed, by model group, strategy and chosen deployment.', ['group', 'strategy', 'deployment']);
  readonly excluded = new Counter('llm_router_excluded_total', 'Deployments excluded from a routing decision, by reason.', ['group', 'deployment', 'reason']);
  readonly unroutable = new Counter('llm_router_unroutable_total', 'Requests no deployment of their group could take.', ['group']);
  readonly classified = new Counter('llm_router_classified_total', 'Virtual-model requests, by the group chosen and how.', ['virtual_model', 'group', 'by']);
  readonly shed = new Counter('llm_router_shed_total', 'Requests shed for load, by tier and group: refused (503) or degraded to another group.', ['tier', 'group', 'action']);
  readonly overloaded = new Counter(
    'llm_router_overloaded_total',
    'Requests refused (503 overloaded) at the request-headers phase because the router was behind, by tier and reason (event_loop_lag, in_flight).',
    ['tier', 'reason'],
  );
  readonly attempts = new Counter(
    'llm_router_attempts_total',
    'Attempts Envoy made, by deployment, whether it was the first or a fallback hop, and result (ok, refused, rate_limited, failed, or the fallback reason).',
    ['deployment', 'hop', 'result'],
  );
  readonly cooldowns = new Counter('llm_router_cooldowns_total', 'Cooldowns started, by deployment and cause (retry_after, rate_limited, failures).', ['deployment', 'cause']);
  readonly decision = new Histogram(
    'llm_router_decision_seconds',
    'From the request body reaching the router to its reply to Envoy: validation, state-store reads, routing and admission.',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  );
  readonly cache = new Counter('llm_router_cache_requests_total', 'Requests to a group that caches, by what the exact cache did: hit, miss (went to the provider) or bypass (opted out, or the store out of reach).', ['group', 'result']);
  readonly cacheSaved = new Counter('llm_router_cache_saved_nanos_total', 'What cache hits saved: the provider cost of the stored answers, in nano-USD.', ['group']);
  readonly reloads = new Counter('llm_router_config_reloads_total', 'Config reloads (SIGHUP or the admin API), by result (ok, refused: the running config kept).', ['result']);

  render(): string {
    return [this.routed, this.excluded, this.unroutable, this.classified, this.shed, this.overloaded, this.attempts, this.cooldowns, this.cache, this.cacheSaved, this.reloads, this.decision].map((c) => c.render()).join('');
  }
}

/** The state store's health, as gauges: whether it is degraded and how many writes wait for it. */
export function renderStoreHealth(health: { readonly degraded: boolean; readonly queuedWrites: number }): string {
  return (
    '# HELP llm_router_state_store_degraded 1 while the state store does not answer and the router works on local state.\n' +
    '# TYPE llm_router_state_store_degraded gauge\n' +
    `llm_router_state_store_degraded ${health.degraded ? 1 : 0}\n` +
    '# HELP llm_router_state_store_queued_writes Usage records and settlements waiting for the state store.\n' +
    '# TYPE llm_router_state_store_queued_writes gauge\n' +
    `llm_router_state_store_queued_writes ${health.queuedWrites}\n`
  );
}

/** What the overload bounds measure (admission/overload.ts), as gauges. */
export function renderPressure(pressure: { readonly eventLoopLagMs: number; readonly inFlight: number }): string {
  return (
    '# HELP llm_router_event_loop_lag_seconds How late the router\'s event loop runs now: about how long a message from Envoy waits to be read.\n' +
    '# TYPE llm_router_event_loop_lag_seconds gauge\n' +
    `llm_router_event_loop_lag_seconds ${pressure.eventLoopLagMs / 1000}\n` +
    '# HELP llm_router_awaiting_decision Requests whose ext_proc stream is open without a routing decision yet (their headers possibly not read).\n' +
    '# TYPE llm_router_awaiting_decision gauge\n' +
    `llm_router_awaiting_decision ${pressure.inFlight}\n`
  );
}

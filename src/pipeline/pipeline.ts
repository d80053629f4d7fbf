/**
 * The request pipeline, process-wide: the router, the key resolver, the routing metrics and the
 * replies prepared once; `exchange()` starts the per-request state machine (exchange.ts) that the
 * Envoy adapter drives phase by phase.
 */
import type { Logger } from 'pino';
import { KeyResolver } from '../auth/resolver.js';
import type { RouterConfig } from '../config/compile.js';
import { Router } from '../routing/choose.js';
import type { ExampleVectors } from '../routing/classifier/index.js';
import type { Decision, PolicyEnv } from '../routing/types.js';
import type { StateStore } from '../state/store.js';
import { RoutingMetrics } from '../telemetry/metrics.js';
import { Exchange } from './exchange.js';
import { renderModelsList } from './models-list.js';
import type { Outcome } from './types.js';

export class Pipeline {
  readonly router: Router;
  readonly modelsList: Buffer;
  /** Removed from every request so a client can never pick the cluster itself. */
  readonly requestHeadersOutcome: Outcome;
  /** The same, and a response-headers phase: for the decision header or the provider's limit headers. */
  readonly withResponseHeadersOutcome: Outcome;
  readonly metrics = new RoutingMetrics();
  readonly keys: KeyResolver;

  constructor(
    readonly config: RouterConfig,
    readonly store: StateStore,
    readonly env: PolicyEnv,
    readonly log: Logger,
    /** Example embeddings of the virtual models that use an embeddings endpoint (see embedExamples). */
    examples: ReadonlyMap<string, ExampleVectors> = new Map(),
  ) {
    this.router = new Router(config, examples);
    this.keys = new KeyResolver(config.keys, store, config.auth.cacheMs, env.now);
    this.modelsList = renderModelsList(config, Math.floor(env.now() / 1000));
    this.requestHeadersOutcome = { kind: 'continue', setHeaders: [], removeHeaders: [config.clusterHeader] };
    this.withResponseHeadersOutcome = { ...this.requestHeadersOutcome, sendResponseHeaders: true };
  }

  /** Counts the decision by outcome, strategy and exclusion reason. */
  count(decision: Decision): void {
    if (decision.outcome === 'unknown_model') return;
    const group = decision.group.name;
    const c = decision.classification;
    if (c !== null) this.metrics.classified.inc({ virtual_model: c.virtualModel, group: c.group, by: c.by });
    for (const e of decision.excluded) this.metrics.excluded.inc({ group, deployment: e.deployment, reason: e.reason });
    if (decision.outcome === 'routed') this.metrics.routed.inc({ group, strategy: decision.strategy, deployment: decision.primary.name });
    else this.metrics.unroutable.inc({ group });
  }

  exchange(): Exchange {
    return new Exchange(this);
  }
}

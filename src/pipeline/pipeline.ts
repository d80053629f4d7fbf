/**
 * The request pipeline, process-wide: the router, the key resolver, the routing metrics, what this
 * process knows of deployment availability, prompt counting and the replies prepared once. `exchange()` starts the
 * per-request state machine (exchange.ts), `hop()` and `failedAttempt()` the per-attempt ones
 * (attempt.ts), which the Envoy adapter drives phase by phase.
 */
import type { Logger } from 'pino';
import { AnonymousIds } from '../auth/anonymous.js';
import { overload, overloadedError, type RouterPressure } from '../admission/overload.js';
import { mayRequest, type VirtualKey } from '../auth/keys.js';
import { KeyResolver } from '../auth/resolver.js';
import type { Deployment, RouterConfig } from '../config/compile.js';
import type { RouterError } from '../errors.js';
import { Router } from '../routing/choose.js';
import type { ExampleVectors } from '../routing/classifier/index.js';
import type { Decision, PolicyEnv } from '../routing/types.js';
import { StoreUnavailableError } from '../state/resilient.js';
import type { StateStore } from '../state/store.js';
import { RoutingMetrics } from '../telemetry/metrics.js';
import type { Tracer } from '../telemetry/tracing.js';
import { tracerFor } from '../telemetry/tracing-export.js';
import { unionOf, type HeaderAllowlist } from '../providers/forwarded-headers.js';
import { FailedAttempt, Hop } from './attempt.js';
import { AttemptLog } from './attempts.js';
import { RecentRequests } from '../telemetry/recent.js';
import { ExactCache } from '../cache/exact.js';
import { SemanticCache } from '../cache/semantic.js';
import { Availability } from './availability.js';
import { Exchange } from './exchange.js';
import { renderModel, renderModelsList } from './models-list.js';
import { TokenCounting } from './token-counting.js';
import type { Continue } from './types.js';

/** The routing environment, how late the process's event loop runs (telemetry/loop-lag.ts), and when work no reply waits on runs. */
export interface PipelineEnv extends PolicyEnv {
  eventLoopLagMs(): number;
  /** Runs `task` once the reply being written is on its way (in the router, the event loop's next check phase). */
  afterReply(task: () => void): void;
}

export class Pipeline {
  readonly router: Router;
  /** Every model group and virtual model, rendered once. */
  private readonly modelsList: Buffer;
  private readonly modelNames: readonly string[];
  private readonly createdSec: number;
  /** The list as each key with a `models` restriction sees it, rendered once per key object. */
  private readonly keyModelsLists = new WeakMap<VirtualKey, Buffer>();
  /** Removed from every request so a client can never pick the cluster, plan or route itself. */
  readonly requestHeadersOutcome: Continue;
  /** The same, and a response-headers phase: for the decision header or the provider's limit headers. */
  readonly withResponseHeadersOutcome: Continue;
  readonly metrics: RoutingMetrics;
  /** Null when tracing is off (router.yaml `tracing`, restart-only: the first pipeline's carries on). */
  readonly tracer: Tracer | null;
  readonly keys: KeyResolver;
  /** Who pays without virtual keys (auth.mode off). */
  readonly anonymousIds: AnonymousIds;
  readonly availability: Availability;
  readonly attempts: AttemptLog;
  /** The newest finished requests with their decisions, for the operator console. */
  readonly recent: RecentRequests;
  /** Prompt counts, in turn with each other and in slices between other requests' work. */
  readonly tokenCounting: TokenCounting;
  /**
   * Every deployment this process has had in its config: the current ones, and any a reload removed,
   * so a retry of a request planned before the reload still gets its own credential and model id.
   */
  readonly known: ReadonlyMap<string, Deployment>;
  /** The same, by Envoy cluster (`xds.cluster_name`, the routing header). */
  readonly knownClusters: ReadonlyMap<string, Deployment>;
  /** Every client header some deployment receives: what the header bounds count (upstream.ts). */
  readonly forwardable: HeaderAllowlist;
  /**
   * Requests whose stream is open without a routing decision yet, over reloads: the overload bound's
   * count. From the stream's opening, not its headers message: when one read of the socket brings a
   * burst, the first headers message handled already sees every stream of it.
   */
  private readonly deciding: { count: number };
  /** The exact cache; its in-flight answers carry on over reloads. */
  readonly cache: ExactCache;
  /** The semantic cache's index, for groups that have it; it carries on over reloads. */
  readonly semantic: SemanticCache;

  constructor(
    readonly config: RouterConfig,
    readonly store: StateStore,
    readonly env: PipelineEnv,
    readonly log: Logger,
    /** Example embeddings of the virtual models that use an embeddings endpoint (see embedExamples). */
    examples: ReadonlyMap<string, ExampleVectors> = new Map(),
    /** The pipeline this one replaces on a config reload: its metrics, attempts and availability carry on. */
    previous?: Pipeline,
  ) {
    this.router = new Router(config, examples);
    this.keys = new KeyResolver(config.keys, store, config.auth.cacheMs, env.now);
    this.anonymousIds = new AnonymousIds(config.auth.anonymousIdsPerDay, previous?.anonymousIds);
    this.metrics = previous?.metrics ?? new RoutingMetrics();
    this.metrics.expectDeployments(config.deployments.keys());
    this.tracer = previous === undefined ? tracerFor(config.tracing, log) : previous.tracer;
    this.attempts = previous?.attempts ?? new AttemptLog();
    this.recent = previous?.recent ?? new RecentRequests();
    this.tokenCounting = previous?.tokenCounting ?? new TokenCounting();
    this.deciding = previous?.deciding ?? { count: 0 };
    this.cache = previous?.cache ?? new ExactCache(store, { now: () => env.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) }, (err, message) => this.storeError(err, message, {}));
    this.semantic = previous?.semantic ?? new SemanticCache(store, () => env.now(), (err, message) => this.storeError(err, message, {}));
    const semanticEntries = [...config.groups.values()].reduce((n, g) => n + (g.cache?.semantic?.maxEntries ?? 0), 0);
    if (semanticEntries > 0) this.semantic.start(semanticEntries);
    this.availability = new Availability(config.routing, previous?.availability);
    this.known = previous === undefined ? config.deployments : new Map([...previous.known, ...config.deployments]);
    this.knownClusters = previous === undefined ? config.clusters : new Map([...previous.knownClusters, ...config.clusters]);
    this.forwardable = unionOf([...config.deployments.values()].map((d) => d.forwardHeaders));
    this.createdSec = Math.floor(env.now() / 1000);
    this.modelNames = [...config.groups.keys(), ...config.virtualModels.keys()];
    this.modelsList = renderModelsList(this.modelNames, this.createdSec);
    // A client's internal headers (routing, plan, hops) never get here: envoy.yaml's first filter
    // removes them (check-envoy requires it), and no allowlist names them. Removing them again would
    // count against Envoy's 100 header mutations a reply, which a client's junk headers already use.
    const removeHeaders: readonly string[] = [];
    this.withResponseHeadersOutcome = { kind: 'continue', setHeaders: [], removeHeaders, sendResponseHeaders: true };
    // A translated answer changes the status and length the provider's headers give: with any
    // deployment whose format is not OpenAI's, every request's response headers come to the router.
    const translating = [...config.deployments.values()].some((d) => d.adapter.translate !== null);
    this.requestHeadersOutcome = translating ? this.withResponseHeadersOutcome : { kind: 'continue', setHeaders: [], removeHeaders };
  }

  /** Whether `deployment` may take a new attempt: in the config now, not cooling, not unhealthy in Envoy. */
  usable(deployment: string, nowMs: number): boolean {
    return this.config.deployments.has(deployment) && this.availability.usable(deployment, nowMs);
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

  /** `GET /v1/models` for a caller: only the models its key may request. */
  modelsListFor(key: VirtualKey | null): Buffer {
    if (key === null || key.models === null) return this.modelsList;
    let list = this.keyModelsLists.get(key);
    if (list === undefined) {
      list = renderModelsList(
        this.modelNames.filter((m) => mayRequest(key, m)),
        this.createdSec,
      );
      this.keyModelsLists.set(key, list);
    }
    return list;
  }

  /** One model the caller may use, or null (OpenAI's 404 for a model it does not know or the key may not use). */
  modelFor(key: VirtualKey | null, id: string): Buffer | null {
    if (!this.modelNames.includes(id) || (key !== null && !mayRequest(key, id))) return null;
    return renderModel(id, this.createdSec);
  }

  /** What the overload bounds are measured on, now. */
  pressure(): RouterPressure {
    return { eventLoopLagMs: this.env.eventLoopLagMs(), inFlight: this.deciding.count };
  }

  /**
   * The overload check at the request-headers phase, against the requests ahead of this one: null
   * when it goes on, else the 503 to answer. `tier`: the key's or the default one, never a header's.
   */
  overloaded(tier: string | null): RouterError | null {
    const shed = overload(this.config.overload, tier, { eventLoopLagMs: this.env.eventLoopLagMs(), inFlight: this.deciding.count - 1 });
    if (shed === null) return null;
    this.metrics.overloaded.inc({ tier: tier ?? '', reason: shed.reason });
    return overloadedError(shed, this.config.overload.retryAfterSec);
  }

  /** A request counted since exchange() has its routing decision or its answer, or ended without one. */
  doneDeciding(): void {
    this.deciding.count--;
  }

  /** `traceparent`: Envoy's span of the ext_proc call, when Envoy traces the request. */
  exchange(traceparent?: string): Exchange {
    this.deciding.count++;
    return new Exchange(this, traceparent);
  }

  hop(): Hop {
    return new Hop(this);
  }

  failedAttempt(): FailedAttempt {
    return new FailedAttempt(this);
  }

  /**
   * A state-store call failed. While the breaker is open that is expected and already logged once
   * (state/resilient.ts), so each request says so at debug level only; other failures are warnings.
   */
  storeError(err: unknown, message: string, extra: Record<string, unknown>): void {
    if (err instanceof StoreUnavailableError) this.log.debug(extra, message);
    else this.log.warn({ err, ...extra }, message);
  }
}

/**
 * The /metrics registry: the router's counters and histograms (metrics.ts), gauges read at each
 * scrape from what the router already keeps (load, cooldowns, Envoy's health view, budgets, the
 * state store, overload pressure), prom-client's process, heap, GC and event-loop metrics, and the
 * build. Gauges cost nothing between scrapes; a scrape reads the shared load and budget spend from
 * the state store once each.
 */
import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client';
import { budgetReport } from '../admission/budgets.js';
import type { PlannedCharge } from '../admission/charges.js';
import type { LoadView } from '../routing/types.js';
import type { RoutingMetrics } from './metrics.js';

export interface GaugeSources {
  /** The pipeline's metrics: a reload keeps the same object. */
  readonly metrics: RoutingMetrics;
  readonly deployments: () => readonly string[];
  readonly loadOf: (deployments: readonly string[], nowMs: number) => LoadView[] | Promise<LoadView[]>;
  readonly unhealthy: () => ReadonlyMap<string, string>;
  readonly budgets: () => readonly PlannedCharge[];
  readonly used: (budgets: readonly PlannedCharge[]) => number[] | Promise<number[]>;
  /** The state store's health; null for a store without a fallback (memory). */
  readonly storeHealth: () => { readonly degraded: boolean; readonly queuedWrites: number } | null;
  readonly pressure: () => { readonly eventLoopLagMs: number; readonly inFlight: number };
  /** The prompt vectors this router's semantic cache index holds. */
  readonly semanticEntries: () => number;
  readonly now: () => number;
  readonly version: string;
}

export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * A gauge whose values are set from `read` at each scrape. A read that fails (the state store does
 * not answer) leaves the gauge without samples this time; the rest of the scrape goes on, and
 * llm_router_state_store_degraded says why.
 */
function gauge(registry: Registry, name: string, help: string, labelNames: readonly string[], read: (g: Gauge) => void | Promise<void>): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        await read(this);
      } catch {
        this.reset();
      }
    },
  });
}

export function metricsRegistry(sources: GaugeSources): MetricsEndpoint {
  const registry = new Registry();
  // Bound series of their own (series.ts), which the registry renders like its own metrics.
  for (const m of sources.metrics.all()) registry.registerMetric(m as unknown as Metric);
  // Sampled every 50 ms like the router's own lag reading (telemetry/loop-lag.ts): enough for the percentiles.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 50 });
  new Gauge({ name: 'llm_router_build_info', help: 'Always 1: the router version and the Node.js version it runs on.', labelNames: ['version', 'nodejs_version'], registers: [registry] })
    .set({ version: sources.version, nodejs_version: process.version }, 1);

  // Read once per scrape, by whichever deployment gauge is collected first.
  let loads: Promise<{ names: readonly string[]; loads: LoadView[] }> | null = null;
  const loadNow = () => (loads ??= (async () => {
    const names = sources.deployments();
    return { names, loads: await sources.loadOf(names, sources.now()) };
  })());
  const perDeployment = (name: string, help: string, value: (load: LoadView, deployment: string) => number) =>
    gauge(registry, name, help, ['deployment'], async (g) => {
      const { names, loads: views } = await loadNow();
      names.forEach((d, i) => g.set({ deployment: d }, value(views[i]!, d)));
    });
  perDeployment('llm_router_deployment_in_flight', 'Requests sent to the deployment and not yet finished, across replicas.', (l) => l.inFlight);
  perDeployment('llm_router_deployment_cooling', '1 while the deployment cools down (no new requests before its cooldown ends).', (l) => (l.coolingUntilMs > sources.now() ? 1 : 0));
  perDeployment('llm_router_deployment_unhealthy', "1 while Envoy's health view (routing.envoy_admin_url) rules the deployment out.", (_l, d) => (sources.unhealthy().has(d) ? 1 : 0));

  let budgets: Promise<ReturnType<typeof budgetReport>> | null = null;
  const budgetsNow = () => (budgets ??= (async () => {
    const meters = sources.budgets();
    return budgetReport(meters, meters.length === 0 ? [] : await sources.used(meters));
  })());
  const perBudget = (name: string, help: string, value: (b: ReturnType<typeof budgetReport>[number]) => number) =>
    gauge(registry, name, help, ['budget', 'window'], async (g) => {
      for (const b of await budgetsNow()) g.set({ budget: b.owner, window: b.window }, value(b));
    });
  perBudget('llm_router_budget_limit_usd', "Each budget router.yaml sets (budget: whose, `key demo`, `team a`, `provider openai`, …): its limit in US dollars.", (b) => b.limit_usd);
  perBudget('llm_router_budget_spent_usd', 'Spend counted against the budget in its current window, in US dollars.', (b) => b.spent_usd);
  perBudget('llm_router_budget_remaining_usd', 'What the budget has left in its current window, in US dollars.', (b) => b.remaining_usd);

  gauge(registry, 'llm_router_state_store_degraded', '1 while the state store does not answer and the router works on local state.', [], (g) => g.set(sources.storeHealth()?.degraded === true ? 1 : 0));
  gauge(registry, 'llm_router_state_store_queued_writes', 'Usage records and settlements waiting for the state store.', [], (g) => g.set(sources.storeHealth()?.queuedWrites ?? 0));
  gauge(registry, 'llm_router_event_loop_lag_seconds', "How late the router's event loop runs now: about how long a message from Envoy waits to be read.", [], (g) => g.set(sources.pressure().eventLoopLagMs / 1000));
  gauge(registry, 'llm_router_cache_semantic_entries', "Prompt vectors in this router's semantic cache index (every replica's stored answers, read from the state store).", [], (g) => g.set(sources.semanticEntries()));
  gauge(registry, 'llm_router_awaiting_decision', 'Requests whose ext_proc stream is open without a routing decision yet (their headers possibly not read).', [], (g) => g.set(sources.pressure().inFlight));

  return {
    contentType: registry.contentType,
    render: async () => {
      loads = null;
      budgets = null;
      return registry.metrics();
    },
  };
}

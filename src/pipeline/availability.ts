/**
 * What this router process knows, without asking the state store, about which deployments can take
 * an attempt now: the cooldowns it set or read, and Envoy's health view (polled from its admin API
 * when `routing.envoy_admin_url` is set). The upstream filter picks the next hop from it on every
 * attempt, so that choice costs no round trip; the request-body phase reads the shared cooldowns
 * from the store as before and passes them on here.
 */
import type { Logger } from 'pino';
import type { RoutingSettings } from '../config/compile.js';
import { FailureWindow } from '../routing/cooldown.js';
import { NO_CLUSTER, unhealthyDeployments } from '../routing/envoy-health.js';
import type { LoadView } from '../routing/types.js';

export class Availability {
  private readonly coolingUntil = new Map<string, number>();
  private unhealthyNow: ReadonlyMap<string, string> = new Map();
  readonly failures: FailureWindow;
  private poller: NodeJS.Timeout | null = null;

  /** `previous`: the view before a config reload, whose cooldowns and Envoy health view carry on. */
  constructor(settings: RoutingSettings, previous?: Availability) {
    this.failures = new FailureWindow(settings.allowedFailsWindowMs, settings.allowedFails);
    if (previous !== undefined) {
      for (const [d, until] of previous.coolingUntil) this.coolingUntil.set(d, until);
      this.unhealthyNow = previous.unhealthyNow;
    }
  }

  get unhealthy(): ReadonlyMap<string, string> {
    return this.unhealthyNow;
  }

  usable(deployment: string, nowMs: number): boolean {
    return !this.unhealthyNow.has(deployment) && (this.coolingUntil.get(deployment) ?? 0) <= nowMs;
  }

  /** Keeps the later deadline, like the store. */
  cool(deployment: string, untilMs: number): void {
    if (untilMs > (this.coolingUntil.get(deployment) ?? 0)) this.coolingUntil.set(deployment, untilMs);
  }

  /** The shared cooldowns, as the request-body phase read them (aligned with `deployments`). */
  learn(deployments: readonly string[], loads: readonly LoadView[]): void {
    for (let i = 0; i < deployments.length; i++) {
      const until = loads[i]?.coolingUntilMs ?? 0;
      if (until > 0) this.cool(deployments[i]!, until);
    }
  }

  /** Reads Envoy's health view every `intervalMs`; a failed read keeps the last view. */
  pollEnvoy(adminUrl: string, intervalMs: number, clusters: ReadonlyMap<string, { readonly name: string }>, log: Logger): void {
    const url = new URL('/clusters?format=json', adminUrl).toString();
    let warned = false;
    let missingBefore: readonly string[] = [];
    const poll = async (): Promise<void> => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(intervalMs, 500)) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const next = unhealthyDeployments(await res.json(), clusters);
        const changed = next.size !== this.unhealthyNow.size || [...next].some(([d, why]) => this.unhealthyNow.get(d) !== why);
        if (changed) log.info({ unhealthy: [...next.keys()] }, 'Envoy health view changed');
        // A config mistake, not an outage: said loudly, once each time the set of them changes.
        const missing = [...next].filter(([, why]) => why === NO_CLUSTER).map(([d]) => d);
        if (missing.join() !== missingBefore.join() && missing.length > 0) {
          log.error({ deployments: missing }, 'Envoy has no cluster for these deployments of router.yaml: routing around them (llm-router check-envoy finds why)');
        }
        missingBefore = missing;
        this.unhealthyNow = next;
        warned = false;
      } catch (err) {
        if (!warned) log.warn({ err, url }, 'cannot read Envoy health from its admin API; keeping the last view');
        warned = true;
      }
    };
    void poll();
    this.poller = setInterval(() => void poll(), intervalMs).unref();
  }

  stop(): void {
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
  }
}

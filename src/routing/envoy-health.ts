/**
 * Envoy's view of deployment health, read from its admin API (`GET /clusters?format=json`): a
 * deployment is unhealthy while none of its hosts is usable — each is ejected by outlier detection,
 * failing active health checks, or marked unhealthy by its discovery service — and when Envoy has
 * no cluster of the name router.yaml gives it at all (the two files out of step: Envoy would answer 503).
 */

interface HostStatus {
  readonly health_status?: {
    readonly eds_health_status?: string;
    readonly failed_outlier_check?: boolean;
    readonly failed_active_health_check?: boolean;
    readonly failed_active_degraded_check?: boolean;
    readonly pending_active_hc?: boolean;
  };
}

interface ClustersDocument {
  readonly cluster_statuses?: ReadonlyArray<{ readonly name?: string; readonly host_statuses?: readonly HostStatus[] }>;
}

/** A host not checked yet (Envoy marks it failing until its first health check) counts as usable. */
const usable = (h: HostStatus): boolean => {
  const s = h.health_status ?? {};
  const failingChecks = s.failed_active_health_check === true && s.pending_active_hc !== true;
  return s.failed_outlier_check !== true && !failingChecks && (s.eds_health_status ?? 'HEALTHY') === 'HEALTHY';
};

export const NOT_SERVING = 'ejected or failing health checks in Envoy';
export const NO_CLUSTER = 'Envoy has no cluster of the name router.yaml gives it (see llm-router check-envoy)';

/** The deployments Envoy cannot serve, by name, each with why; `clusters`: each deployment by its cluster's name. */
export function unhealthyDeployments(doc: unknown, clusters: ReadonlyMap<string, { readonly name: string }>): Map<string, string> {
  const statuses = (doc as ClustersDocument | null)?.cluster_statuses;
  const out = new Map<string, string>();
  if (statuses === undefined) return out;
  const known = new Set<string>();
  for (const c of statuses) {
    const d = c.name === undefined ? undefined : clusters.get(c.name);
    if (d === undefined) continue;
    known.add(d.name);
    const hosts = c.host_statuses ?? [];
    if (hosts.length > 0 && !hosts.some(usable)) out.set(d.name, NOT_SERVING);
  }
  for (const d of clusters.values()) if (!known.has(d.name)) out.set(d.name, NO_CLUSTER);
  return out;
}

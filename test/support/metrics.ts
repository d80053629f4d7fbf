import { Registry, type Metric } from 'prom-client';
import type { RoutingMetrics } from '../../src/telemetry/metrics.js';

/** The router's metrics in the exposition format, as /metrics renders them (without the gauges). */
export function metricsText(metrics: RoutingMetrics): Promise<string> {
  const registry = new Registry();
  for (const m of metrics.all()) registry.registerMetric(m as unknown as Metric);
  return registry.metrics();
}

import { describe, expect, it } from 'vitest';
import { RoutingMetrics } from '../../../src/telemetry/metrics.js';
import { metricsRegistry, type GaugeSources } from '../../../src/telemetry/registry.js';
import { IDLE } from '../../../src/routing/types.js';

function sources(overrides: Partial<GaugeSources> = {}): GaugeSources {
  return {
    metrics: new RoutingMetrics(),
    deployments: () => ['a', 'b'],
    loadOf: async (names) => names.map((_, i) => ({ ...IDLE, inFlight: i + 1, coolingUntilMs: i === 1 ? 2_000 : 0 })),
    unhealthy: () => new Map([['a', 'ejected']]),
    budgets: () => [],
    used: async () => [],
    storeHealth: () => ({ degraded: false, queuedWrites: 0 }),
    pressure: () => ({ eventLoopLagMs: 5, inFlight: 2 }),
    semanticEntries: () => 0,
    now: () => 1_000,
    version: '1.2.3',
    ...overrides,
  };
}

describe('metricsRegistry', () => {
  it('reads the deployment gauges at each scrape, beside the build and process metrics', async () => {
    const text = await metricsRegistry(sources()).render();
    expect(text).toContain('llm_router_deployment_in_flight{deployment="a"} 1\nllm_router_deployment_in_flight{deployment="b"} 2');
    expect(text).toContain('llm_router_deployment_cooling{deployment="a"} 0\nllm_router_deployment_cooling{deployment="b"} 1');
    expect(text).toContain('llm_router_deployment_unhealthy{deployment="a"} 1\nllm_router_deployment_unhealthy{deployment="b"} 0');
    expect(text).toContain('llm_router_awaiting_decision 2');
    expect(text).toMatch(/^llm_router_build_info\{version="1\.2\.3",nodejs_version="v[\d.]+"\} 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it('a state store that does not answer leaves its gauges empty, not the scrape', async () => {
    const failing = async () => {
      throw new Error('state store unavailable');
    };
    const text = await metricsRegistry(sources({ loadOf: failing, used: failing, storeHealth: () => ({ degraded: true, queuedWrites: 7 }) })).render();
    expect(text).not.toMatch(/^llm_router_deployment_in_flight\{/m);
    expect(text).toContain('llm_router_state_store_degraded 1');
    expect(text).toContain('llm_router_state_store_queued_writes 7');
  });
});

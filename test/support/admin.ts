/** An admin API on a free loopback port over a fresh memory store, as unit tests start it. */
import pino from 'pino';
import { startAdminServer, type AdminOptions, type AdminServer } from '../../src/admin/server.js';
import { MemoryStore } from '../../src/state/memory.js';

/** `overrides`: what a test varies (token, open, listen address, allowed hosts, clock). */
export async function startTestAdmin(overrides: Partial<AdminOptions>): Promise<{ server: AdminServer; store: MemoryStore }> {
  const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  const server = await startAdminServer({
    store,
    metrics: { contentType: 'text/plain; version=0.0.4', render: async () => 'llm_router_up 1\n' },
    deployments: () => [],
    unhealthy: () => new Map(),
    keys: { forget: () => {} },
    reload: async () => ({ reloaded: true, groups: 0, deployments: 0, restart_only: [] }),
    budgets: () => [],
    listen: { address: '127.0.0.1', port: 0 },
    allowedHosts: [],
    token: null,
    open: false,
    log: pino({ level: 'silent' }),
    now: Date.now,
    ...overrides,
  });
  return { server, store };
}

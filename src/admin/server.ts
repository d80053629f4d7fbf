/**
 * Admin HTTP: liveness, readiness and read access to recorded usage. Bind it to loopback or a
 * private interface; it carries no authentication.
 *
 *   GET /healthz                         200 while the process runs
 *   GET /readyz                          200 when serving and the state store answers, else 503
 *   GET /usage/log?limit=N               the newest N usage records, oldest first
 *   GET /usage/totals?dimension=&id=&day=  per-day aggregates (dimension: key | model | deployment)
 *   GET /metrics                         Prometheus counters: routing decisions and exclusions by reason
 *   GET /load                            live load per deployment (in flight, sliding-minute usage, latency, cooldown)
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { USAGE_DIMENSIONS, usageDay, type StateStore, type UsageDimension } from '../state/store.js';

export interface AdminServer {
  readonly port: number;
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}

export async function startAdminServer(
  store: StateStore,
  metrics: { render(): string },
  deployments: readonly string[],
  listen: { address: string; port: number },
  log: Logger,
  now: () => number,
): Promise<AdminServer> {
  let ready = false;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const handle = async (): Promise<void> => {
      switch (url.pathname) {
        case '/healthz':
          return send(res, 200, { status: 'ok' });
        case '/readyz': {
          if (!ready) return send(res, 503, { status: 'not ready' });
          try {
            await store.ping();
            return send(res, 200, { status: 'ready', store: store.kind });
          } catch (err) {
            return send(res, 503, { status: 'state store unreachable', error: (err as Error).message });
          }
        }
        case '/usage/log': {
          const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 100) || 100, 1), 10_000);
          return send(res, 200, { data: await store.usageLog(limit) });
        }
        case '/usage/totals': {
          const dimension = url.searchParams.get('dimension') as UsageDimension | null;
          const id = url.searchParams.get('id');
          if (dimension === null || !USAGE_DIMENSIONS.includes(dimension) || id === null) {
            return send(res, 400, { error: `expected ?dimension=${USAGE_DIMENSIONS.join('|')}&id=...[&day=YYYY-MM-DD]` });
          }
          const day = url.searchParams.get('day') ?? usageDay(now());
          return send(res, 200, { dimension, id, day, ...(await store.usageTotals(dimension, id, day)) });
        }
        case '/load': {
          const loads = await store.loadOf(deployments, now());
          return send(res, 200, { data: Object.fromEntries(deployments.map((d, i) => [d, loads[i]])) });
        }
        case '/metrics': {
          const text = Buffer.from(metrics.render());
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': text.length });
          return void res.end(text);
        }
        default:
          return send(res, 404, { error: 'not found' });
      }
    };
    handle().catch((err: unknown) => {
      log.error({ err, path: url.pathname }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.address, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    setReady: (r) => {
      ready = r;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

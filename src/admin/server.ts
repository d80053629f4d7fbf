/**
 * Admin HTTP: liveness, readiness, metrics, recorded usage and spend, runtime keys, config reload.
 * Bind it to loopback or a private interface. Every endpoint but /healthz, /readyz and /metrics
 * (probes and scrapers) needs `Authorization: Bearer <token>` (`server.admin.token_env`), unless the
 * config opens the API explicitly (`server.admin.open: true`); with neither, they refuse everyone.
 * Browsers are kept out of every endpoint (`guard.ts`: Host, Origin, JSON bodies).
 *
 *   GET /healthz                         200 while the process runs
 *   GET /readyz                          200 while serving (with `store: degraded` when Redis does not answer:
 *                                        the router then works on local state); 503 while draining
 *   GET /usage/log?limit=N               the newest N usage records, oldest first
 *   GET /usage/totals?dimension=&id=&day=  per-day aggregates (dimension: key | team | tag | model | deployment | provider)
 *   GET /metrics                         Prometheus metrics (docs/operations.md): GenAI token usage and latencies, requests,
 *                                        cost, refusals, routing decisions, load, budgets, the state store, the process
 *   PUT /keys                            add or replace a virtual key at runtime (JSON: name, key or key_sha256, and any
 *                                        field of a router.yaml key: team, tags, tier, models, limits, allowed_tags, debug, …)
 *   DELETE /keys/<sha256>                remove a runtime key
 *   GET /load                            live load per deployment (in flight, sliding-minute usage, latency, cooldown, Envoy health)
 *   GET /budgets                         every budget router.yaml sets: limit, spend in the current window, what is left
 *   GET|DELETE /cache/<namespace>[/<name>]  inspect or purge the exact cache (src/cache/admin.ts)
 *   POST /config/reload                  reload router.yaml (as SIGHUP does): 200 with what needs a restart, or 400
 *                                        with every problem, the running config kept
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { budgetReport } from '../admission/budgets.js';
import { cacheAdmin, CACHE_ROUTE } from '../cache/admin.js';
import type { PlannedCharge } from '../admission/charges.js';
import { hashKey } from '../auth/keys.js';
import type { ReloadOutcome } from '../config/reload.js';
import { runtimeKey } from '../config/schema.js';
import { USAGE_DIMENSIONS, usageDay, type StateStore, type UsageDimension } from '../state/store.js';
import type { MetricsEndpoint } from '../telemetry/registry.js';
import { allowedHostNames, refusal } from './guard.js';

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

export interface AdminOptions {
  readonly store: StateStore;
  readonly metrics: MetricsEndpoint;
  /** The running config's deployments (a reload changes them). */
  readonly deployments: () => readonly string[];
  /** The deployments Envoy's health view rules out, each with why (`routing.envoy_admin_url`). */
  readonly unhealthy: () => ReadonlyMap<string, string>;
  readonly reload: () => Promise<ReloadOutcome>;
  /** The running config's budgets, as meters to read now. */
  readonly budgets: () => readonly PlannedCharge[];
  /** This router's memory of looked-up keys, forgotten when a key changes through this API. */
  readonly keys: { forget(hash: string): void };
  readonly listen: { address: string; port: number };
  /** Host names requests may use besides IP addresses, `localhost` and the listen address. */
  readonly allowedHosts: readonly string[];
  /** The bearer token the API requires (null value: configured but unset, so nothing gets in); null: see `open`. */
  readonly token: { readonly env: string; readonly value: string | null } | null;
  /** Without a token: true lets anyone who passes the browser checks in; false lets nobody in. */
  readonly open: boolean;
  readonly log: Logger;
  readonly now: () => number;
}

/** A key record is a few hundred bytes; a body past this is not one, and is not buffered. */
const MAX_BODY_BYTES = 64 * 1024;

class BodyTooLarge extends Error {}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data').resume();
        return reject(new BodyTooLarge());
      }
      parts.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on('error', reject);
  });
}

const isLoopback = (address: string): boolean => address === 'localhost' || (isIP(address) === 4 ? address.startsWith('127.') : address === '::1');

/** Endpoints that stay open with a token configured: Kubernetes probes and Prometheus scrapers. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether the request may use a protected endpoint; compared in constant time. */
function authorised(req: IncomingMessage, token: AdminOptions['token'], open: boolean): boolean {
  if (token === null) return open;
  const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  return token.value !== null && presented !== undefined && timingSafeEqual(digest(presented), digest(token.value));
}

export async function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const { store, metrics, deployments, keys, reload, budgets, listen, token, open, log, now } = options;
  let ready = false;
  if (open && !isLoopback(listen.address)) {
    log.warn({ address: listen.address }, 'admin API open (server.admin.open) on a non-loopback address: whoever reaches it can add keys, reload the config and read usage');
  }
  if (token !== null && token.value === null) log.error({ env: token.env }, 'admin token variable not set: the admin API refuses every request but /healthz, /readyz and /metrics');
  if (token === null && !open) log.warn('admin API without server.admin.token_env: it refuses every request but /healthz, /readyz and /metrics');
  const unauthorised = token === null ? 'admin API closed: set server.admin.token_env (or server.admin.open: true)' : 'admin token required: Authorization: Bearer <token>';
  const hostNames = allowedHostNames(listen.address, options.allowedHosts);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const handle = async (): Promise<void> => {
      const refused = refusal(req, hostNames);
      if (refused !== null) return send(res, refused.status, { error: refused.error });
      if (!OPEN_PATHS.has(url.pathname) && !authorised(req, token, open)) {
        res.setHeader('www-authenticate', 'Bearer');
        return send(res, 401, { error: unauthorised });
      }
      switch (url.pathname) {
        case '/healthz':
          return send(res, 200, { status: 'ok' });
        case '/readyz': {
          if (!ready) return send(res, 503, { status: 'not ready' });
          try {
            await store.ping();
            return send(res, 200, { status: 'ready', store: store.kind });
          } catch (err) {
            return send(res, 200, { status: 'ready', store: 'degraded', error: (err as Error).message });
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
          const names = deployments();
          const loads = await store.loadOf(names, now());
          const unhealthy = options.unhealthy();
          return send(res, 200, { data: Object.fromEntries(names.map((d, i) => [d, { ...loads[i], unhealthy: unhealthy.get(d) ?? null }])) });
        }
        case '/keys': {
          if (req.method !== 'PUT') return send(res, 405, { error: 'use PUT' });
          const body = await readJson(req).catch((err: unknown) => (err instanceof BodyTooLarge ? err : undefined));
          if (body instanceof BodyTooLarge) return send(res, 413, { error: `a key record is at most ${MAX_BODY_BYTES} bytes` });
          const parsed = runtimeKey.safeParse(body);
          if (!parsed.success) return send(res, 400, { error: z.prettifyError(parsed.error) });
          const { key, key_sha256: sha, ...rest } = parsed.data;
          const hash = sha ?? hashKey(key!);
          await store.putKey({ hash, ...rest });
          keys.forget(hash);
          log.info({ key: rest.name }, 'virtual key stored');
          return send(res, 200, { name: rest.name, key_sha256: hash });
        }
        case '/budgets': {
          const meters = budgets();
          return send(res, 200, { data: budgetReport(meters, meters.length === 0 ? [] : await store.used(meters)) });
        }
        case '/config/reload': {
          if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
          const outcome = await reload();
          return send(res, outcome.reloaded ? 200 : 400, outcome);
        }
        case '/metrics': {
          const text = Buffer.from(await metrics.render());
          res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': text.length });
          return void res.end(text);
        }
        default:
          if (url.pathname.startsWith(CACHE_ROUTE)) {
            const reply = await cacheAdmin(store, req.method ?? 'GET', url, now());
            return send(res, reply.status, reply.body);
          }
          if (url.pathname.startsWith('/keys/') && req.method === 'DELETE') {
            const hash = url.pathname.slice('/keys/'.length);
            const removed = await store.deleteKey(hash);
            keys.forget(hash);
            return send(res, removed ? 200 : 404, { removed });
          }
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

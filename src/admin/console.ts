/**
 * The operator console: a page the admin server serves (`console/`: plain HTML, CSS and one ES
 * module) and the snapshot it shows — deployments with Envoy's health view, load, latency and
 * cooldowns; spend against every budget and today's spend by key, team, tag and provider; the newest
 * requests with their routing decisions and attempts — as JSON (`/console/state`) and as a stream of
 * server-sent events (`/console/events`, one snapshot a second).
 *
 * The page and its assets are public (they hold no data); the snapshot needs the admin token. The
 * page asks for it, keeps it in sessionStorage (gone with the tab, never in a URL or a cookie, so no
 * other site can make the browser send it) and sends it as `Authorization` from fetch, which is
 * why the events come over a fetch stream rather than EventSource (it cannot set headers). A strict
 * Content-Security-Policy allows only this server's own script, style and connections.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { budgetReport, type BudgetStatus } from '../admission/budgets.js';
import type { PlannedCharge } from '../admission/charges.js';
import type { RouterConfig } from '../config/compile.js';
import { PROJECT_ROOT } from '../devstack/binaries.js';
import { usageDay, type LoadView, type StateStore, type UsageTotals } from '../state/store.js';
import type { RecentRequest } from '../telemetry/recent.js';

export interface ConsoleDeployment {
  readonly name: string;
  readonly provider: string;
  readonly groups: readonly string[];
}

/** Who may have spent today, by the dimensions the console lists. */
export interface Spenders {
  readonly key: readonly string[];
  readonly team: readonly string[];
  readonly tag: readonly string[];
  readonly provider: readonly string[];
}

export interface ConsoleSource {
  readonly deployments: () => readonly ConsoleDeployment[];
  readonly spenders: () => Spenders;
  readonly recent: () => readonly RecentRequest[];
}

/** The config's deployments, each with the model groups it serves. */
export function consoleDeployments(config: RouterConfig): ConsoleDeployment[] {
  const groups = [...config.groups.values()];
  return [...config.deployments.values()].map((d) => ({
    name: d.name,
    provider: d.provider,
    groups: groups.filter((g) => g.deployments.some((gd) => gd.name === d.name)).map((g) => g.name),
  }));
}

/** The keys, teams, tags and providers the config names (keys added at runtime are known only by hash). */
export function spenders(config: RouterConfig): Spenders {
  return {
    key: [...config.keys.values()].map((k) => k.name),
    team: [...config.teams.keys()],
    tag: [...config.routing.tags.known],
    provider: [...new Set([...config.deployments.values()].map((d) => d.provider))],
  };
}

export interface ConsoleSnapshot {
  readonly now: number;
  readonly deployments: ReadonlyArray<ConsoleDeployment & { readonly load: LoadView; readonly unhealthy: string | null }>;
  readonly budgets: readonly BudgetStatus[];
  readonly spend: Readonly<Record<keyof Spenders, ReadonlyArray<{ readonly id: string } & UsageTotals>>>;
  readonly recent: readonly RecentRequest[];
}

export interface SnapshotInputs {
  readonly source: ConsoleSource;
  readonly store: StateStore;
  readonly unhealthy: () => ReadonlyMap<string, string>;
  readonly budgets: () => readonly PlannedCharge[];
  readonly now: () => number;
}

export async function consoleSnapshot({ source, store, unhealthy, budgets, now }: SnapshotInputs): Promise<ConsoleSnapshot> {
  const at = now();
  const deployments = source.deployments();
  const loads = await store.loadOf(deployments.map((d) => d.name), at);
  const health = unhealthy();
  const meters = budgets();
  const used = meters.length === 0 ? [] : await store.used(meters);
  const spenders = source.spenders();
  const day = usageDay(at);
  const totals = async (dimension: keyof Spenders) =>
    Promise.all(spenders[dimension].map(async (id) => ({ id, ...(await store.usageTotals(dimension, id, day)) })));
  const [key, team, tag, provider] = await Promise.all([totals('key'), totals('team'), totals('tag'), totals('provider')]);
  return {
    now: at,
    deployments: deployments.map((d, i) => ({ ...d, load: loads[i]!, unhealthy: health.get(d.name) ?? null })),
    budgets: budgetReport(meters, used),
    spend: { key, team, tag, provider },
    recent: source.recent(),
  };
}

/** Only this server's own files and connections; no inline script or style, no framing, no form posts. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  // Named by the page, so a browser does not ask for /favicon.ico, which the admin server refuses without the token.
  '/console/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** The console's public paths: its page and assets. */
export const isConsoleAsset = (path: string): boolean => path in ASSETS;

const assetCache = new Map<string, Buffer>();

/** Serves a page or asset of the console (read once from `console/`), with the headers that keep it to itself. */
export function sendConsoleAsset(res: ServerResponse, path: string): void {
  const asset = ASSETS[path]!;
  let bytes = assetCache.get(asset.file);
  if (bytes === undefined) assetCache.set(asset.file, (bytes = readFileSync(join(PROJECT_ROOT, 'console', asset.file))));
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': bytes.length,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(bytes);
}

/** More open streams than an operator team needs; past it a new one is refused rather than every snapshot slowing. */
export const MAX_CONSOLE_STREAMS = 8;
const STREAM_INTERVAL_MS = 1000;

/** Open event streams, bounded by MAX_CONSOLE_STREAMS: each reads the store once a second. */
export class ConsoleStreams {
  private open = 0;

  constructor(private readonly snapshot: () => Promise<ConsoleSnapshot>, private readonly onError: (err: unknown) => void) {}

  /** Streams snapshots until the client goes; false (nothing written) when the bound is reached. */
  serve(res: ServerResponse): boolean {
    if (this.open >= MAX_CONSOLE_STREAMS) return false;
    this.open++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const push = async (): Promise<void> => {
      try {
        // A client not reading skips snapshots rather than having them pile up in memory.
        if (!res.writableNeedDrain) res.write(`event: state\ndata: ${JSON.stringify(await this.snapshot())}\n\n`);
      } catch (err) {
        this.onError(err);
      }
      if (!closed) timer = setTimeout(() => void push(), STREAM_INTERVAL_MS);
    };
    res.on('close', () => {
      closed = true;
      clearTimeout(timer);
      this.open--;
    });
    void push();
    return true;
  }
}

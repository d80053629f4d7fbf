/**
 * `llm-router serve`: loads the config, starts the ext_proc and admin servers, reloads the config on
 * SIGHUP or `POST /config/reload`, stops gracefully.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RouterConfig } from './config/compile.js';
import { ConfigError, formatProblem, loadConfig } from './config/load.js';
import { reloadable, type ReloadOutcome } from './config/reload.js';
import { consoleDeployments, spenders } from './admin/console.js';
import { startAdminServer } from './admin/server.js';
import { configuredBudgets } from './admission/budgets.js';
import { startExtProcServer } from './extproc/server.js';
import { Pipeline, type PipelineEnv } from './pipeline/pipeline.js';
import { embedExamples } from './providers/openai/embeddings.js';
import { loadTokenizer } from './routing/tokens.js';
import type { PolicyEnv } from './routing/types.js';
import { PROJECT_ROOT } from './devstack/binaries.js';
import { createStateStore } from './state/index.js';
import { ResilientStore } from './state/resilient.js';
import { LoopLag } from './telemetry/loop-lag.js';
import { metricsRegistry } from './telemetry/registry.js';
import { createLogger } from './telemetry/logger.js';

/** What the operator should hear of a config, at start and after each reload. */
function warnAbout(config: RouterConfig, log: Logger): void {
  for (const name of config.keysMissingEnv) log.warn({ key: name }, 'virtual key left out: its key_env variable is not set');
  for (const d of config.deployments.values()) {
    if (d.missingCredential !== null) log.warn({ deployment: d.name, missing: d.missingCredential }, 'credential missing: requests go upstream without one');
  }
}

function pollEnvoy(pipeline: Pipeline, log: Logger): void {
  const routing = pipeline.config.routing;
  if (routing.envoyAdminUrl !== null) pipeline.availability.pollEnvoy(routing.envoyAdminUrl, routing.healthPollMs, pipeline.config.clusters, log);
}

export async function serve(configPath: string): Promise<void> {
  const config = await loadConfig(configPath);
  const log = createLogger(config.logLevel);
  warnAbout(config, log);
  if (Number(process.versions.node.split('.')[0]) < 22) {
    log.warn(
      { node: process.version },
      'Node < 22 cannot raise the HTTP/2 stream reset limit: under sustained load Envoy sees refused ext_proc streams (503). Run the router on Node 22 or 24.',
    );
  }
  // Sampled every 50 ms: the bounds are hundreds of ms, and an idle router pays ~1 ms of CPU a second.
  const lag = new LoopLag(50);
  // Node's HTTP/2 layer sends what a reply wrote from a native immediate, which runs before the
  // check phase's JavaScript immediates: work deferred so runs after the reply left.
  const env: PipelineEnv = { now: Date.now, random: Math.random, eventLoopLagMs: () => lag.ms(), afterReply: (task) => void setImmediate(task) };
  const store = createStateStore(config, log);
  let pipeline = new Pipeline(config, store, env, log, await embedExamples(config, log));
  pollEnvoy(pipeline, log);
  // Any client can send a prompt longer than the smallest context window: loading the tokenizer on
  // the first one stalled the event loop for 0.2–0.4 s, so it is loaded before serving — unless
  // nothing is ever counted exactly (its tables cost about 5 MB: routing/bpe-ranks.ts).
  if (config.tokenCountBudgetMs > 0) await loadTokenizer();

  // New streams get the new pipeline; open ones finish on the one they started with.
  const reloadNow = async (): Promise<ReloadOutcome> => {
    let fresh: Pipeline;
    let restartOnly: readonly string[];
    try {
      const next = reloadable(pipeline.config, await loadConfig(configPath));
      restartOnly = next.restartOnly;
      fresh = new Pipeline(next.config, store, env, log, await embedExamples(next.config, log), pipeline);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems.map((p) => formatProblem(configPath, p)) : [(err as Error).message];
      pipeline.metrics.reloads.inc({ result: 'refused' });
      log.error({ problems }, 'config reload refused: the running config is kept');
      return { reloaded: false, problems };
    }
    const running = fresh.config;
    if (restartOnly.length > 0) log.warn({ settings: restartOnly }, 'config reload: these settings take effect at the next restart');
    warnAbout(running, log);
    pipeline.availability.stop();
    pollEnvoy(fresh, log);
    pipeline = fresh;
    log.level = running.logLevel;
    pipeline.metrics.reloads.inc({ result: 'ok' });
    log.info({ groups: [...running.groups.keys()], deployments: [...running.deployments.keys()] }, 'config reloaded');
    return { reloaded: true, groups: running.groups.size, deployments: running.deployments.size, restart_only: restartOnly };
  };
  // One at a time: a reload asked for during another runs after it, on the file as it is then.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadOutcome> => {
    const run = reloading.then(reloadNow);
    reloading = run;
    return run;
  };
  process.on('SIGHUP', () => void reload());

  const extproc = await startExtProcServer(() => pipeline, config.grpc, log);
  const deployments = () => [...pipeline.config.deployments.keys()];
  const unhealthy = () => pipeline.availability.unhealthy;
  const budgets = () => configuredBudgets(pipeline.config, env.now());
  const metrics = metricsRegistry({
    metrics: pipeline.metrics,
    deployments,
    loadOf: (names, nowMs) => store.loadOf(names, nowMs),
    unhealthy,
    budgets,
    used: (meters) => store.used(meters),
    storeHealth: () => (store instanceof ResilientStore ? store : null),
    pressure: () => pipeline.pressure(),
    semanticEntries: () => pipeline.semantic.size,
    now: env.now,
    version: (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
  });
  const admin = await startAdminServer({
    store,
    metrics,
    deployments,
    unhealthy,
    keys: { forget: (hash) => pipeline.keys.forget(hash) },
    console: {
      deployments: () => consoleDeployments(pipeline.config),
      spenders: () => spenders(pipeline.config),
      recent: () => pipeline.recent.newest(),
    },
    reload,
    budgets,
    listen: config.admin,
    allowedHosts: config.admin.allowedHosts,
    token: config.admin.token,
    open: config.admin.open,
    log,
    now: env.now,
  });
  admin.setReady(true);
  log.info({ grpcPort: extproc.port, adminPort: admin.port, store: store.kind, groups: [...config.groups.keys()], runtime: runtimeName() }, 'router ready');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const graceMs = pipeline.config.shutdownGraceMs;
    log.info({ signal, graceMs }, 'shutting down: draining open streams');
    admin.setReady(false);
    await extproc.shutdown(graceMs);
    // The last replies' accounting (env.afterReply) runs before the store closes.
    await new Promise((resolve) => setImmediate(resolve));
    pipeline.availability.stop();
    lag.stop();
    await admin.close();
    await store.close();
    log.info('stopped');
    // Every line out, in order, before the exit handlers (logger.ts).
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The JavaScript runtime and its version, as operators compare them (Node, or Bun by LLM_ROUTER_RUNTIME). */
function runtimeName(): string {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun === undefined ? `node ${process.versions.node}` : `bun ${bun}`;
}

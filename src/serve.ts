/** `llm-router serve`: loads the config, starts the ext_proc and admin servers, stops gracefully. */
import { loadConfig } from './config/load.js';
import { startAdminServer } from './admin/server.js';
import { startExtProcServer } from './extproc/server.js';
import { Pipeline } from './pipeline/pipeline.js';
import { embedExamples } from './providers/openai/embeddings.js';
import type { PolicyEnv } from './routing/types.js';
import { createStateStore } from './state/index.js';
import { ResilientStore } from './state/resilient.js';
import { renderStoreHealth } from './telemetry/metrics.js';
import { createLogger } from './telemetry/logger.js';

export async function serve(configPath: string): Promise<void> {
  const config = await loadConfig(configPath);
  const log = createLogger(config.logLevel);
  for (const name of config.keysMissingEnv) log.warn({ key: name }, 'virtual key left out: its key_env variable is not set');
  for (const d of config.deployments.values()) {
    if (d.missingCredentialEnv !== null) log.warn({ deployment: d.name, env: d.missingCredentialEnv }, 'credential variable not set: requests go upstream without one');
  }
  if (Number(process.versions.node.split('.')[0]) < 22) {
    log.warn(
      { node: process.version },
      'Node < 22 cannot raise the HTTP/2 stream reset limit: under sustained load Envoy sees refused ext_proc streams (503). Run the router on Node 22 or 24.',
    );
  }
  const env: PolicyEnv = { now: Date.now, random: Math.random };
  const store = createStateStore(config, log);
  const pipeline = new Pipeline(config, store, env, log, await embedExamples(config, log));
  if (config.routing.envoyAdminUrl !== null) {
    pipeline.availability.pollEnvoy(config.routing.envoyAdminUrl, config.routing.healthPollMs, new Set(config.deployments.keys()), log);
  }
  const extproc = await startExtProcServer(pipeline, config.grpc, log);
  const admin = await startAdminServer({
    store,
    metrics: { render: () => pipeline.metrics.render() + (store instanceof ResilientStore ? renderStoreHealth(store) : '') },
    deployments: [...config.deployments.keys()],
    keys: pipeline.keys,
    listen: config.admin,
    log,
    now: env.now,
  });
  admin.setReady(true);
  log.info({ grpcPort: extproc.port, adminPort: admin.port, store: store.kind, groups: [...config.groups.keys()] }, 'router ready');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining open streams');
    admin.setReady(false);
    await extproc.shutdown(config.shutdownGraceMs);
    pipeline.availability.stop();
    await admin.close();
    await store.close();
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

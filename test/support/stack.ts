/**
 * startStack(): real Envoy (the shipped envoy/envoy.yaml, ports and clusters rewritten), the built
 * router as a child process and in-process mock providers, all on free loopback ports.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT, resolveEnvoy } from '../../src/devstack/binaries.js';
import type { Level } from '../../src/config/envoy-check.js';
import { checkEnvoyAdmin, checkEnvoyFile, formatProblem, loadConfig, type ConfigProblem } from '../../src/config/load.js';
import type { RouterConfig } from '../../src/config/compile.js';
import { renderEnvoyConfig } from '../../src/devstack/envoy-config.js';
import { routerCommand } from '../../src/devstack/runtime.js';
import { clustersHealthy, httpOk, spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import type { Behaviour } from '../../src/mock/behaviour.js';
import { startMockInstance, type MockInstance, type SeenRequest } from '../../src/mock/server.js';
import type { MockInstanceConfig } from '../../src/mock/behaviour.js';
import { emptyTotals, usageDay, type UsageDimension, type UsageRecord, type UsageTotals } from '../../src/state/store.js';
import { freePort } from '../../src/devstack/ports.js';

type MockFormat = MockInstanceConfig['format'] & string;
/** The formats the mock speaks; a deployment of a provider of the same name gets that format. */
const MOCK_FORMATS: readonly MockFormat[] = ['openai', 'azure-openai', 'anthropic', 'bedrock', 'gemini'];

export interface StackDeployment {
  readonly name: string;
  /** Its Envoy cluster's name, as a mesh or gateway makes it (router.yaml `cluster`); the deployment's name by default. */
  readonly cluster?: string;
  readonly group: string;
  readonly weight?: number;
  readonly providerModel?: string;
  /** Mock hosts behind this deployment's cluster (default 1). */
  readonly hosts?: number;
  readonly behaviour?: Partial<Behaviour>;
  readonly apiKeyEnv?: string;
  /**
   * The mock's wire format (default OpenAI) and whether it rejects what the real API rejects (default:
   * off for OpenAI, on for the other formats). A strict mock expects the credential `apiKeyEnv` names.
   */
  readonly mock?: { readonly format?: MockFormat; readonly strict?: boolean };
  /** More router.yaml fields for this deployment (tags, tier, context_window, price, limits, …). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** In router.yaml only: Envoy gets no cluster (and no mock) for it, the mistake check-envoy reports. */
  readonly withoutCluster?: true;
}

export interface StackOptions {
  readonly deployments: readonly StackDeployment[];
  /** Redis URL for the router's state store; memory when absent. */
  readonly redisUrl?: string;
  /** More router.yaml `state.redis` settings (hot_path_timeout_ms, …). */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
  readonly maxRequestBodyBytes?: number;
  readonly routerEnv?: NodeJS.ProcessEnv;
  /** model_groups entries by name (strategy, …); groups not listed use weighted-random. */
  readonly groups?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly routing?: Readonly<Record<string, unknown>>;
  readonly virtualModels?: readonly unknown[];
  /** Router replicas behind the one Envoy (default 1); more than one needs `redisUrl`. */
  readonly routers?: number;
  /** More top-level router.yaml sections (auth, keys, …). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** The stream route's per-attempt idle timeout in Envoy (e.g. `1s`); the shipped one otherwise. */
  readonly streamIdleTimeout?: string;
  /** The clock the mocks' per-minute limits count in (a pinned one: no minute boundary inside the test). */
  readonly mockLimitsClock?: () => number;
  /** The router cluster's circuit-breaker max_requests in Envoy; the shipped one otherwise. */
  readonly routerMaxRequests?: number;
  /** Envoy deems loopback clients internal, and honours their x-envoy-* headers (devstack/envoy-config.ts). */
  readonly internalClients?: boolean;
  /** Where the app behind envoy.yaml's non-LLM route listens (its `app` cluster). */
  readonly appPort?: number;
  /** What puts Envoy in front of the routers and mocks: the shipped envoy.yaml when absent. */
  readonly gateway?: GatewayLauncher;
  /** Envoy's tracer: the collector's OTLP gRPC port and the sampling percentage; the shipped ones otherwise. */
  readonly envoyTracing?: { readonly collectorPort: number; readonly samplingPercent: number };
}

/**
 * Starts an Envoy in front of the stack's routers and mocks: the shipped envoy.yaml by default, or
 * the Envoy a control plane (Envoy Gateway, istiod) configures from the project's manifests.
 */
export interface GatewayLauncher {
  /** Envoy's admin URL when known before the routers start: they read Envoy's health view from it. */
  readonly adminUrl?: string;
  start(context: GatewayContext): Promise<RunningGateway>;
}

export interface GatewayContext {
  /** A fresh folder for the gateway's files and logs. */
  readonly dir: string;
  /** Each router replica's gRPC port, on 127.0.0.1. */
  readonly routerPorts: readonly number[];
  /** Mock hosts' ports by the Envoy cluster name router.yaml gives their deployment. */
  readonly hostPorts: Readonly<Record<string, readonly number[]>>;
  /** The first replica's router.yaml as the router reads it. */
  readonly routerConfig: RouterConfig;
  readonly options: StackOptions;
}

export interface RunningGateway {
  /** The listener clients call, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly envoyAdmin: string;
  readonly envoy: Child;
  /** Where Envoy writes its JSON access log (the shipped envoy.yaml's format). */
  readonly accessLogFile: string;
  /** What check-envoy says of a configuration file the gateway was started from; none for a control plane's. */
  readonly fileProblems: ReadonlyArray<ConfigProblem & { readonly level: Level }>;
  /** Stops Envoy and whatever configured it. */
  stop(): Promise<void>;
}

/** A line of envoy.yaml's access log. */
export interface AccessLogEntry {
  readonly time: string;
  readonly request_id: string;
  readonly path: string;
  readonly status: number;
  /** Envoy's response code details and flags: why Envoy answered as it did (e.g. `UF`, `ext_proc_error_gRPC_error_14`). */
  readonly details: string;
  readonly flags: string;
  readonly cluster: string;
  /** µs, or "-" for a phase the request did not reach. */
  readonly router_headers_us: string;
  readonly router_body_us: string;
  /** The response-headers phase, which the router turns on only for requests that need it (null when off). */
  readonly router_response_headers_us: string | null;
  readonly router_response_us: string;
  /** The router's dynamic metadata (null when it did not set the field). */
  readonly model: string | null;
  readonly model_group: string | null;
  readonly deployment: string | null;
  readonly provider: string | null;
  readonly decision: string | null;
  readonly input_tokens: number | null;
  readonly output_tokens: number | null;
  readonly cost_usd: number | null;
  readonly router_error: string | null;
  /** What a caching group's cache found: hit, miss or bypass. */
  readonly cache: string | null;
}

export interface Stack {
  /** Envoy's listener, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly envoyAdmin: string;
  /** What check-envoy says of this stack's envoy.yaml and router.yaml. */
  readonly envoyProblems: ReadonlyArray<ConfigProblem & { readonly level: Level }>;
  readonly routerAdmin: string;
  /** The Redis key prefix every replica's state store writes under (router.yaml `state.redis.key_prefix`). */
  readonly keyPrefix: string;
  /** Each replica's router.yaml (edit it, then SIGHUP the replica or POST its /config/reload). */
  readonly routerConfigFiles: readonly string[];
  /** Every replica's admin URL; the first is `routerAdmin`. */
  readonly routerAdmins: readonly string[];
  /** The bearer token every replica's admin API requires (`server.admin.token_env`). */
  readonly adminToken: string;
  /** A request to a replica's admin API (the first by default), with the token. */
  adminFetch(path: string, init?: RequestInit, replica?: number): Promise<Response>;
  readonly mocks: Readonly<Record<string, readonly MockInstance[]>>;
  /** The first mock host of deployment `name`. */
  mock(name: string): MockInstance;
  /** The last request deployment `name`'s first mock host received. */
  lastSeen(name: string): SeenRequest;
  /** The newest usage record. */
  lastRecord(): Promise<UsageRecord>;
  readonly router: Child;
  /** Every replica; the first is `router`. */
  readonly routers: readonly Child[];
  readonly envoy: Child;
  /** Envoy's access log so far (envoy.yaml's json_format), oldest first; Envoy flushes it every 200 ms. */
  accessLog(): Promise<AccessLogEntry[]>;
  /** Envoy counters and gauges matching `filter` (a regex), by full name. */
  stats(filter: string): Promise<Record<string, number>>;
  usageLog(limit?: number): Promise<UsageRecord[]>;
  /** `/usage/totals` summed over every UTC day from `sinceMs` to now: a test spanning midnight still sees all it sent. */
  usageTotals(dimension: UsageDimension, id: string, sinceMs: number): Promise<UsageTotals>;
  /** Requests received by every mock host of every deployment. */
  mockRequests(): number;
  resetMocks(): void;
  stop(): Promise<void>;
}

export const PRICE = { input_per_million: 2, output_per_million: 8 };

const ADMIN_TOKEN_ENV = 'LLM_ROUTER_ADMIN_TOKEN';

/** Starts the stack, again with new ports when a port drawn as free was taken before its bind. */
export async function startStack(options: StackOptions): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-router-test-'));
  const mocks: Record<string, MockInstance[]> = {};
  const children: Child[] = [];
  let gateway: RunningGateway | undefined;
  const stop = async (): Promise<void> => {
    await gateway?.stop();
    for (const c of [...children].reverse()) await c.stop();
    await Promise.all(Object.values(mocks).flat().map((m) => m.close()));
  };
  try {
    for (const d of options.deployments) {
      if (d.withoutCluster) continue;
      const apiKey = d.apiKeyEnv === undefined ? undefined : (options.routerEnv?.[d.apiKeyEnv] ?? process.env[d.apiKeyEnv]);
      // The mock speaks the deployment's provider's format unless told otherwise (Azure's at its
      // deployment path), lenient for OpenAI's and Azure's (most tests configure no credential).
      const provider = d.extra?.provider;
      const format = d.mock?.format ?? MOCK_FORMATS.find((f) => f !== 'openai' && f === provider);
      const deployments = format === 'azure-openai' ? [d.providerModel ?? `${d.group}-provider`] : undefined;
      const strict = d.mock?.strict ?? (d.mock?.format === undefined && provider === 'azure-openai' ? false : undefined);
      const wire = { format, strict, api_key: apiKey, deployments };
      mocks[d.name] = await Promise.all(
        Array.from({ length: d.hosts ?? 1 }, (_, i) => startMockInstance({ name: `${d.name}-${i}`, port: 0, behaviour: d.behaviour ?? {}, ...wire }, { limitsClock: options.mockLimitsClock })),
      );
    }
    const launcher = options.gateway ?? shippedEnvoy(await freePort(), await freePort());
    const groups = [...new Set(options.deployments.map((d) => d.group))];
    const replicas = options.routers ?? 1;
    const routerPorts: Array<{ grpc: number; admin: number }> = [];
    for (let i = 0; i < replicas; i++) routerPorts.push({ grpc: await freePort(), admin: await freePort() });
    const routerAdmins: string[] = [];
    const routerFiles: string[] = [];
    const adminToken = randomBytes(16).toString('hex');
    const routerEnv = { ...process.env, ...options.routerEnv, [ADMIN_TOKEN_ENV]: adminToken };
    // Replicas share one key prefix: they are one gateway.
    const keyPrefix = `test:${routerPorts[0]!.grpc}:`;
    for (const [i, ports] of routerPorts.entries()) {
      const routerConfig = {
        server: {
          grpc: { address: '127.0.0.1', port: ports.grpc },
          admin: { address: '127.0.0.1', port: ports.admin, token_env: ADMIN_TOKEN_ENV },
          shutdown_grace_ms: 5000,
        },
        limits: options.maxRequestBodyBytes === undefined ? {} : { max_request_body_bytes: options.maxRequestBodyBytes },
        state: options.redisUrl === undefined ? { kind: 'memory' } : { kind: 'redis', redis: { url: options.redisUrl, key_prefix: keyPrefix, ...options.redisOptions } },
        log_level: 'info',
        // The router reads Envoy's health view from its admin API, as in the shipped example.
        routing: { ...(launcher.adminUrl === undefined ? {} : { envoy_admin_url: launcher.adminUrl }), ...options.routing },
        model_groups: groups.map((name) => ({ name, strategy: 'weighted-random', ...options.groups?.[name] })),
        virtual_models: options.virtualModels ?? [],
        deployments: options.deployments.map((d) => ({
          name: d.name,
          ...(d.cluster === undefined ? {} : { cluster: d.cluster }),
          provider: 'openai',
          model_group: d.group,
          provider_model: d.providerModel ?? `${d.group}-provider`,
          ...(d.weight === undefined ? {} : { weight: d.weight }),
          price: PRICE,
          context_window: 128000,
          ...(d.apiKeyEnv === undefined ? {} : { api_key_env: d.apiKeyEnv }),
          // The mock's per-request behaviour headers reach it through the gateway's allowlist.
          forward_headers: ['x-mock-*'],
          ...d.extra,
        })),
        ...options.config,
      };
      const routerFile = join(dir, `router-${i}.yaml`);
      await writeFile(routerFile, stringify(routerConfig));
      routerFiles.push(routerFile);
      const run = routerCommand(join(PROJECT_ROOT, 'dist', 'main.js'), ['serve', '-c', routerFile], { env: routerEnv });
      const router = spawnChild(`router-${i}`, run.command, run.args, { logFile: join(dir, `router-${i}.log`), env: run.env });
      children.push(router);
      const url = `http://127.0.0.1:${ports.admin}`;
      await waitUntil(() => httpOk(`${url}/readyz`), 15_000, () => `router not ready (is dist/ built? npm test builds it):\n${router.output()}`, router);
      routerAdmins.push(url);
    }
    const routers = [...children];
    const router = routers[0]!;
    const routerAdminUrl = routerAdmins[0]!;
    const adminFetch = (path: string, init: RequestInit = {}, replica = 0): Promise<Response> =>
      fetch(`${routerAdmins[replica]!}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${adminToken}` } });

    const clusterOf = new Map(options.deployments.map((d) => [d.name, d.cluster ?? d.name]));
    const hostPorts = Object.fromEntries(Object.entries(mocks).map(([name, hosts]) => [clusterOf.get(name)!, hosts.map((h) => h.port)]));
    // Every stack's pair passes check-envoy, as files and (below) as Envoy runs it: the checker holds
    // for each configuration the suite runs.
    const routerConfig = await loadConfig(routerFiles[0]!, routerEnv);
    const mayMismatch = options.deployments.some((d) => d.withoutCluster);
    const failOnErrors = (source: string, problems: ReadonlyArray<ConfigProblem & { readonly level: Level }>) => {
      const errors = problems.filter((p) => p.level === 'error');
      if (errors.length > 0 && !mayMismatch) throw new Error(`check-envoy: ${errors.map((p) => formatProblem(source, p)).join('\n')}`);
    };
    gateway = await launcher.start({ dir, routerPorts: routerPorts.map((p) => p.grpc), hostPorts, routerConfig, options });
    failOnErrors('envoy.yaml', gateway.fileProblems);
    const { envoy, envoyAdmin } = gateway;
    await waitUntil(() => clustersHealthy(envoyAdmin, Object.keys(hostPorts)), 30_000, () => `clusters not healthy:\n${envoy.output()}`, envoy);
    // Every router has read that health view too: a first poll that saw a health check fail under
    // load would otherwise keep a deployment out of fallback plans until the next one.
    await waitUntil(() => routersSeeHealthy(routerAdmins, adminToken, Object.keys(mocks)), 30_000, () => 'the routers still see a deployment unhealthy', envoy);
    failOnErrors(envoyAdmin, await checkEnvoyAdmin(envoyAdmin, routerConfig));
    const envoyLog = gateway.accessLogFile;

    const mock = (name: string): MockInstance => {
      const host = mocks[name]?.[0];
      if (host === undefined) throw new Error(`no mock for deployment ${name}`);
      return host;
    };
    const usageLog = async (limit = 10_000) => ((await (await adminFetch(`/usage/log?limit=${limit}`)).json()) as { data: UsageRecord[] }).data;
    return {
      url: gateway.url,
      envoyAdmin,
      envoyProblems: gateway.fileProblems,
      routerAdmin: routerAdminUrl,
      keyPrefix,
      routerAdmins,
      adminToken,
      adminFetch,
      routerConfigFiles: routerFiles,
      mocks,
      mock,
      lastSeen: (name) => mock(name).stats().last.at(-1)!,
      lastRecord: async () => (await usageLog(1))[0]!,
      router,
      routers,
      envoy,
      accessLog: async () =>
        (await readFile(envoyLog, 'utf8'))
          .split('\n')
          .filter((line) => line.startsWith('{"'))
          .map((line) => JSON.parse(line) as AccessLogEntry),
      stats: async (filter) => {
        const res = await fetch(`${envoyAdmin}/stats?format=json&filter=${encodeURIComponent(filter)}`);
        const body = (await res.json()) as { stats: Array<{ name?: string; value?: number }> };
        const out: Record<string, number> = {};
        for (const s of body.stats) if (s.name !== undefined && typeof s.value === 'number') out[s.name] = s.value;
        return out;
      },
      usageLog,
      usageTotals: async (dimension, id, sinceMs) => {
        const sum = emptyTotals();
        for (let t = sinceMs, end = Date.now(); usageDay(t) <= usageDay(end); t += 86_400_000) {
          const day = (await (await adminFetch(`/usage/totals?dimension=${dimension}&id=${encodeURIComponent(id)}&day=${usageDay(t)}`)).json()) as UsageTotals;
          for (const k of Object.keys(sum) as Array<keyof UsageTotals>) sum[k] += day[k];
        }
        return sum;
      },
      mockRequests: () => Object.values(mocks).flat().reduce((n, m) => n + m.stats().requests, 0),
      resetMocks: () => Object.values(mocks).flat().forEach((m) => m.reset()),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The shipped envoy.yaml, its ports and clusters rewritten for the stack (devstack/envoy-config.ts). */
export function shippedEnvoy(listener: number, admin: number): GatewayLauncher {
  const adminUrl = `http://127.0.0.1:${admin}`;
  return {
    adminUrl,
    async start({ dir, routerPorts, hostPorts, routerConfig, options }) {
      const shipped = await readFile(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
      const envoyFile = join(dir, 'envoy.yaml');
      await writeFile(envoyFile, renderEnvoyConfig(shipped, { listener, admin, router: routerPorts }, hostPorts, {
        ...(options.streamIdleTimeout === undefined ? {} : { streamIdleTimeout: options.streamIdleTimeout }),
        ...(options.routerMaxRequests === undefined ? {} : { routerMaxRequests: options.routerMaxRequests }),
        ...(options.internalClients === undefined ? {} : { internalClients: options.internalClients }),
        ...(options.appPort === undefined ? {} : { appPort: options.appPort }),
        ...(options.envoyTracing === undefined ? {} : { tracing: options.envoyTracing }),
      }));
      const fileProblems = await checkEnvoyFile(envoyFile, routerConfig);
      const logFile = join(dir, 'envoy.log');
      const envoy = spawnChild('envoy', resolveEnvoy(), ['-c', envoyFile, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn', '--file-flush-interval-msec', '200'], { logFile });
      try {
        await waitUntil(() => httpOk(`${adminUrl}/ready`), 30_000, () => `Envoy not ready:\n${envoy.output()}`, envoy);
      } catch (err) {
        await envoy.stop();
        throw err;
      }
      // envoy.yaml's access log goes to stdout, which the log file keeps.
      return { url: `http://127.0.0.1:${listener}`, envoyAdmin: adminUrl, envoy, accessLogFile: logFile, fileProblems, stop: () => envoy.stop() };
    },
  };
}

/** True when no router counts any of `deployments` out for Envoy's health view (admin `/load`). */
async function routersSeeHealthy(admins: readonly string[], token: string, deployments: readonly string[]): Promise<boolean> {
  for (const admin of admins) {
    const res = await fetch(`${admin}/load`, { headers: { authorization: `Bearer ${token}` } });
    const load = (await res.json()) as { data: Record<string, { unhealthy: string | null }> };
    if (deployments.some((d) => load.data[d]?.unhealthy !== null)) return false;
  }
  return true;
}

/**
 * What the benchmark measures, started side by side on loopback: one mock provider (its own
 * process, answering at once), the router, and two Envoys built from the shipped envoy.yaml —
 * "router" (with ext_proc) and "plain" (the same listener, route and cluster without ext_proc).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from '../src/devstack/binaries.js';
import { ROUTER_NODE_FLAGS, routerCommand, RUNTIME_ENV } from '../src/devstack/runtime.js';
import { startGrpcFloor } from './grpc-floor.js';
import { renderEnvoyConfig, type RenderOptions, type RouterAddress } from '../src/devstack/envoy-config.js';
import { freePort } from '../src/devstack/ports.js';
import { httpOk, spawnChild, waitUntil, type Child } from '../src/devstack/processes.js';
import type { Endpoint } from './load.js';
import type { MockInstanceConfig } from '../src/mock/behaviour.js';
import { spawnEnvoy } from './envoy.js';
import { PEER_NAMES, startPeers, type Peer, type PeerName } from './peers/index.js';

import { MODELS } from './scenarios.js';

/** One deployment (= Envoy cluster) per model, named after it, all served by the one mock. */
const CLUSTERS = Object.keys(MODELS);

/**
 * A deployment of its own (`TargetOptions.deployments`): its model group and Envoy cluster take its
 * name, and its own mock instance (in the one mock process) answers it in its provider's format.
 */
export interface BenchDeployment {
  readonly name: string;
  /** Its mock instance, but for name and port: format, behaviour, the credential it expects. */
  readonly mock: Omit<MockInstanceConfig, 'name' | 'port'>;
  /** Its router.yaml entry, but for name, model group, price and context window: provider, provider_model, credentials. */
  readonly router: Readonly<Record<string, unknown>>;
}

/** What is measured: plain Envoy (the baseline), Envoy with the router, and the peers that started. */
export interface Target {
  readonly name: string;
  readonly endpoint: Endpoint;
  /** The gateway process whose CPU and memory are reported (none for plain Envoy). */
  readonly pid: number | null;
  /** The Envoy in front of it, whose CPU is reported too (none for a peer without Envoy). */
  readonly envoyPid: number | null;
  /** The router's own ext_proc address, for driving it without Envoy (bench/extproc-rate.ts); none for plain Envoy and peers. */
  readonly extProc?: RouterAddress;
}

export interface Targets {
  readonly list: readonly Target[];
  readonly router: Target;
  /** Peers that could not be installed or started, with the reason. */
  readonly unavailable: ReadonlyArray<{ name: string; error: string }>;
  stop(): Promise<void>;
}

/**
 * Router set-ups compared in one run (`--variants`): each is its own router process(es) behind its
 * own Envoy, measured like any other target. `router` itself is one process over loopback TCP.
 */
export const VARIANTS = {
  uds: { processes: 1, socket: true, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: false },
  x2: { processes: 2, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: false },
  rh: { processes: 1, socket: false, withResponseHeaders: true, grpcOptions: {}, strategy: 'weighted-random', onNode: false },
  channelz: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: { 'grpc.enable_channelz': 1 }, strategy: 'weighted-random', onNode: false },
  /** A strategy that reads the live load before every decision (the asynchronous path). */
  lb: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'least-busy', onNode: false },
  /** The same router on Node with the shipped V8 flags instead of Bun, the default runtime. */
  node: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: true },
  /** Traced: Envoy samples this percentage of requests (the router traces all it samples), both exporting spans. */
  trace1: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: false, tracePercent: 1 },
  trace100: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: false, tracePercent: 100 },
  /** Not the router: grpc-js alone answering every message with a constant reply (bench/grpc-floor.ts), what the runtime and gRPC stack cost by themselves. */
  floor: { processes: 1, socket: false, withResponseHeaders: false, grpcOptions: {}, strategy: 'weighted-random', onNode: false, grpcFloor: true },
} as const;
export type VariantName = keyof typeof VARIANTS;

async function startEnvoy(
  name: string,
  dir: string,
  shipped: string,
  clusters: Readonly<Record<string, readonly number[]>>,
  routers: readonly RouterAddress[],
  options: RenderOptions,
): Promise<{ child: Child; port: number }> {
  const [listener, admin] = [await freePort(), await freePort()];
  const config = renderEnvoyConfig(shipped, { listener, admin, router: routers }, clusters, options);
  return { child: await spawnEnvoy(name, dir, config, admin, Object.keys(clusters)), port: listener };
}

export interface TargetOptions {
  /** The peers to start besides the router: all of them, none, or these. */
  readonly peers: boolean | readonly PeerName[];
  readonly variants: readonly VariantName[];
  /** The main router process writes a V8 CPU profile here when it stops (`--profile`). */
  readonly profileDir?: string;
  /** Node flags of the main router process (default: the ones every start script applies). */
  readonly routerNodeFlags?: readonly string[];
  /** router.yaml `limits` of the main router process (bench/overload.ts compares two). */
  readonly routerLimits?: Readonly<Record<string, unknown>>;
  /** Instead of one OpenAI deployment per model of MODELS (bench/translation.ts); plain Envoy routes to the first. */
  readonly deployments?: readonly BenchDeployment[];
  /** The router processes' environment (the credentials `deployments` name); this process's otherwise. */
  readonly routerEnv?: NodeJS.ProcessEnv;
  /** More router.yaml fields of the main router process's model groups, by group (bench/cache.ts: a cache). */
  readonly routerGroups?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** A command the main router process runs under (bench/cost.ts: valgrind), which may slow its start many times over. */
  readonly routerWrapper?: readonly string[];
  /**
   * The main router traces this share of requests (router.yaml `tracing.sample_ratio`), exporting
   * to a collector stand-in that reads and discards; its Envoy samples every request.
   */
  readonly routerTracing?: { readonly sampleRatio: number };
}

/** Stands in for a collector: reads each OTLP export and answers 200 (only the router's cost is measured). */
async function startSpanSink(): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

export async function startTargets(dir: string, options: TargetOptions): Promise<Targets> {
  /** Whatever must stop with the targets: processes, and the span sink. */
  const children: Array<Pick<Child, 'stop'>> = [];
  const stop = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
  };
  try {
    const main = join(PROJECT_ROOT, 'dist', 'main.js');
    const mockPort = await freePort();
    const own = options.deployments;
    const ports = own === undefined ? [mockPort] : [mockPort, ...(await Promise.all(own.slice(1).map(() => freePort())))];
    const instances = own === undefined ? [{ name: 'bench', port: mockPort, models: MODELS }] : own.map((d, i) => ({ ...d.mock, name: d.name, port: ports[i]! }));
    const clusters: Record<string, number[]> =
      own === undefined ? Object.fromEntries(CLUSTERS.map((name) => [name, [mockPort]])) : Object.fromEntries(own.map((d, i) => [d.name, [ports[i]!]]));
    // One deployment per model, named after it; provider_model = group name, so requests that
    // need no rewrite pass their bytes unchanged.
    const deployments = own === undefined ? CLUSTERS.map((model) => ({ name: model, provider: 'openai', provider_model: model })) : own.map((d) => ({ ...d.router, name: d.name }));
    const mockFile = join(dir, 'mock.yaml');
    await writeFile(mockFile, stringify({ instances }));
    const mock = spawnChild('mock', process.execPath, [main, 'mock-provider', '-c', mockFile], { logFile: join(dir, 'mock.log') });
    children.push(mock);
    for (const port of ports) await waitUntil(() => httpOk(`http://127.0.0.1:${port}/health`), 10_000, () => mock.output(), mock);

    const shipped = await readFile(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
    const startRouter = async (
      name: string,
      socket: boolean,
      grpcOptions: Readonly<Record<string, number>> = {},
      profileDir?: string,
      strategy = 'weighted-random',
      nodeFlags: readonly string[] = ROUTER_NODE_FLAGS,
      limits: Readonly<Record<string, unknown>> = {},
      wrapper: readonly string[] = [],
      groups: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {},
      env: NodeJS.ProcessEnv | undefined = options.routerEnv,
      extra: Readonly<Record<string, unknown>> = {},
    ): Promise<{ child: Child; address: RouterAddress }> => {
      const [port, admin] = [await freePort(), await freePort()];
      const address: RouterAddress = socket ? { socket: join(dir, `${name}.sock`) } : port;
      const file = join(dir, `${name}.yaml`);
      await writeFile(
        file,
        stringify({
          server: { grpc: { ...(typeof address === 'number' ? { port } : { socket: address.socket }), options: grpcOptions }, admin: { port: admin } },
          limits,
          ...extra,
          model_groups: Object.keys(clusters).map((name) => ({ name, strategy, ...groups[name] })),
          deployments: deployments.map((d) => ({ ...d, model_group: d.name, price: { input_per_million: 1, output_per_million: 2 }, context_window: 128000 })),
        }),
      );
      const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
      const run = routerCommand(main, ['serve', '-c', file], { nodeFlags, runtimeFlags: profile, env });
      const [command, ...args] = [...wrapper, run.command, ...run.args];
      const child = spawnChild(name, command!, args, { logFile: join(dir, `${name}.log`), env: run.env });
      children.push(child);
      await waitUntil(() => httpOk(`http://127.0.0.1:${admin}/readyz`), wrapper.length === 0 ? 15_000 : 240_000, () => child.output(), child);
      return { child, address };
    };

    /**
     * A traced set-up: Envoy samples `percent` of requests and passes the trace on its ext_proc calls
     * (its own exports go to a port nobody listens on), the router traces `ratio` of those into a sink.
     */
    const tracedSetup = async (percent: number, ratio: number) => {
      const sink = await startSpanSink();
      children.push(sink);
      return {
        router: { tracing: { endpoint: `http://127.0.0.1:${sink.port}`, sample_ratio: ratio } },
        envoy: { tracing: { collectorPort: await freePort(), samplingPercent: percent } },
      };
    };
    const traced = options.routerTracing === undefined ? null : await tracedSetup(100, options.routerTracing.sampleRatio);
    const router = await startRouter('router', false, {}, options.profileDir, 'weighted-random', options.routerNodeFlags, options.routerLimits, options.routerWrapper, options.routerGroups, options.routerEnv, traced?.router);
    // Plain Envoy never calls the router; its (unused) router cluster just keeps a valid address.
    const plain = await startEnvoy('envoy-plain', dir, shipped, clusters, [router.address], { withoutRouterTo: own?.[0]?.name ?? 'bench-chat' });
    children.push(plain.child);
    // A router under a wrapper answers many times slower: its Envoy waits longer for each message.
    const routed = await startEnvoy('envoy-router', dir, shipped, clusters, [router.address], { ...(options.routerWrapper === undefined ? {} : { messageTimeout: '60s' }), ...traced?.envoy });
    children.push(routed.child);
    const routerTarget: Target = { name: 'router', endpoint: { port: routed.port, headers: {} }, pid: router.child.process.pid ?? null, envoyPid: routed.child.process.pid ?? null, extProc: router.address };
    const list: Target[] = [{ name: 'plain', endpoint: { port: plain.port, headers: {} }, pid: null, envoyPid: plain.child.process.pid ?? null }, routerTarget];
    const unavailable: Array<{ name: string; error: string }> = [];
    for (const variant of options.variants) {
      const spec = VARIANTS[variant];
      const env = spec.onNode ? { ...process.env, ...options.routerEnv, [RUNTIME_ENV]: 'node' } : options.routerEnv;
      const routers = [];
      const percent = 'tracePercent' in spec ? spec.tracePercent : null;
      const traced = percent === null ? null : await tracedSetup(percent, 1);
      if ('grpcFloor' in spec) {
        const floor = await startGrpcFloor(dir, `router-${variant}`, env);
        children.push(floor.child);
        routers.push({ child: floor.child, address: floor.port });
      } else for (let i = 0; i < spec.processes; i++) routers.push(await startRouter(`router-${variant}-${i}`, spec.socket, spec.grpcOptions, undefined, spec.strategy, undefined, undefined, undefined, undefined, env, traced?.router));
      const envoy = await startEnvoy(`envoy-router-${variant}`, dir, shipped, clusters, routers.map((r) => r.address), { withResponseHeaders: spec.withResponseHeaders, ...traced?.envoy });
      children.push(envoy.child);
      // CPU and memory are reported for the first process of a variant.
      list.push({ name: `router-${variant}`, endpoint: { port: envoy.port, headers: {} }, pid: routers[0]!.child.process.pid ?? null, envoyPid: envoy.child.process.pid ?? null, extProc: routers[0]!.address });
    }
    const peerNames = options.peers === true ? PEER_NAMES : options.peers === false ? [] : options.peers;
    const peers: Peer[] = await startPeers(dir, peerNames, Object.keys(MODELS), mockPort);
    for (const peer of peers) {
      if ('error' in peer) unavailable.push({ name: peer.name, error: peer.error });
      else {
        children.push(peer.child);
        if (peer.envoy !== undefined) children.push(peer.envoy);
        list.push({ name: peer.name, endpoint: peer.endpoint, pid: peer.child.process.pid ?? null, envoyPid: peer.envoy?.process.pid ?? null });
      }
    }
    return { list, router: routerTarget, unavailable, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** The most resident memory a process has had (VmHWM) since it started or since `resetPeakRss`. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Starts a new peak: writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0). */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

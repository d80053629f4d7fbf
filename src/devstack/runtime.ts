/**
 * The runtime every router process is started on, and its memory settings: the demo, the tests and
 * the benchmark start it through `routerCommand`; the container image and the chart set the same
 * (a unit test holds them equal). Bun is the default (docs/decisions.md, "The router on Bun by
 * default"); `LLM_ROUTER_RUNTIME=node` runs the same `dist/main.js` on Node.
 */

/**
 * Node's V8 heap settings, measured in bench/results/memory (docs/decisions.md, "Router memory"):
 * - a young generation of 2 × 2 MB instead of 2 × 16 MB: requests' short-lived objects die there
 *   either way, and its pages are resident for good once touched;
 * - an old-space limit below 2 GB makes V8 grow the heap by at most 1.3-2× its live size between
 *   full collections instead of up to 4×; at 1.5 GB still above the heap of hundreds of 4 MB bodies
 *   being routed at once, so it bounds growth rather than what the router may hold.
 */
export const ROUTER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=1536'];

/**
 * Bun's counterpart, as environment: JavaScriptCore sizes its collector from the machine's RAM (all
 * of a node's, not a container's limit) and collects hard past 80% of it, so the RAM it is told
 * bounds growth the way Node's old-space limit does. 2 GiB is the chart's default memory limit,
 * which sets this from its own limit. Bun takes no heap limit (oven-sh/bun#34917).
 */
export const ROUTER_BUN_ENV: Readonly<Record<string, string>> = { BUN_JSC_forceRAMSize: String(2 * 1024 ** 3) };

/** What `LLM_ROUTER_RUNTIME` names: Bun's binary (the scripts set it), or `node` for this Node. */
export const RUNTIME_ENV = 'LLM_ROUTER_RUNTIME';

/** How a router process is started, beyond its arguments. */
export interface RouterLaunch {
  /** V8 flags when on Node (ROUTER_NODE_FLAGS by default); Bun takes none. */
  readonly nodeFlags?: readonly string[];
  /** Flags both runtimes take the same way (`--cpu-prof`, `--cpu-prof-dir=`). */
  readonly runtimeFlags?: readonly string[];
  /** Its environment, which also picks the runtime (process.env by default). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * How to run the router's `main` with `args`: on the Bun binary `LLM_ROUTER_RUNTIME` names, with
 * ROUTER_BUN_ENV added to the environment unless it sets those itself, or, when it is `node` or
 * unset, on this Node with the Node flags.
 */
export function routerCommand(main: string, args: readonly string[], launch: RouterLaunch = {}): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const { nodeFlags = ROUTER_NODE_FLAGS, runtimeFlags = [], env = process.env } = launch;
  const runtime = env[RUNTIME_ENV];
  if (runtime === undefined || runtime === '' || runtime === 'node') return { command: process.execPath, args: [...nodeFlags, ...runtimeFlags, main, ...args], env };
  return { command: runtime, args: [...runtimeFlags, main, ...args], env: { ...ROUTER_BUN_ENV, ...env } };
}

/**
 * The V8 heap settings every router process is started with (the demo, the tests, the benchmark;
 * docker-compose sets the same through NODE_OPTIONS, which accepts both). Measured in
 * bench/results/memory: see docs/decisions.md ("Router memory").
 *
 * - A young generation of 2 × 2 MB instead of 2 × 16 MB: requests' short-lived objects die there
 *   either way, and its pages are resident for good once touched.
 * - An old-space limit below 2 GB makes V8 grow the heap by at most 1.3-2× its live size between
 *   full collections instead of up to 4×; at 1.5 GB still above the heap of hundreds of 4 MB bodies
 *   being routed at once, so it bounds growth rather than what the router may hold.
 */
export const ROUTER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=1536'];

/**
 * How to run the router's `dist/main.js` with `args`: on this Node with `nodeFlags`, or on the
 * JavaScript runtime `LLM_ROUTER_RUNTIME` names (Bun's binary, say), which takes no V8 flags. The
 * demo, the test stacks and the benchmark all start the router so.
 */
export function routerCommand(main: string, args: readonly string[], nodeFlags: readonly string[] = ROUTER_NODE_FLAGS, env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const runtime = env.LLM_ROUTER_RUNTIME;
  if (runtime === undefined || runtime === '') return { command: process.execPath, args: [...nodeFlags, main, ...args] };
  return { command: runtime, args: [main, ...args] };
}

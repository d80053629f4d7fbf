/**
 * The V8 heap settings every router process is started with (the demo, the tests, the benchmark;
 * the container image and chart set the same through NODE_OPTIONS). Measured in
 * bench/results/memory: see docs/decisions.md.
 */
export const ROUTER_NODE_FLAGS: readonly string[] = [];

import { defineConfig } from 'vitest/config';

/** The second suite: the router behind Envoy Gateway and Istio, their control planes real and built from source; the console in headless Chromium. */
export default defineConfig({
  test: {
    include: ['test/gateways/**/*.test.ts'],
    fileParallelism: false,
    // A control plane's first push and Envoy's cluster warming take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});

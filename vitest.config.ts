import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/gateways needs control planes built from source and a private network namespace:
    // `npm run test:gateways` (vitest.gateways.config.ts) runs it.
    exclude: ['test/gateways/**', '**/node_modules/**'],
    // Integration files start Envoy, routers and Redis and several measure latency or balance under
    // load: one file at a time, so no file's timing depends on what another is doing on 2 cores.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});

/**
 * A real Redis for the tests: $REDIS_URL when set, else a `redis-server` started on a free loopback
 * port (npm test installs Debian's redis-server when missing). Never mocked; never skipped.
 */
import { Redis } from 'ioredis';
import { findOnPath } from '../../src/devstack/binaries.js';
import { spawnChild, waitUntil } from '../../src/devstack/processes.js';
import { freePort } from '../../src/devstack/ports.js';

export interface TestRedis {
  readonly url: string;
  /** The redis-server process, when this test started it (not with $REDIS_URL). */
  readonly pid: number | null;
  stop(): Promise<void>;
}

/** `own`: always start a redis-server, even with $REDIS_URL (a test that stops and resumes it). */
export async function startRedis(options: { own?: boolean } = {}): Promise<TestRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (options.own !== true && fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, pid: null, stop: async () => {} };
  const bin = findOnPath('redis-server');
  if (bin === null) {
    throw new Error('No Redis: set REDIS_URL or install redis-server (npm test does this on Debian as root: apt-get install redis-server).');
  }
  const port = await freePort();
  const child = spawnChild('redis', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {});
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    },
    10_000,
    () => `redis-server did not start:\n${child.output()}`,
  );
  return { url, pid: child.process.pid ?? null, stop: () => child.stop() };
}

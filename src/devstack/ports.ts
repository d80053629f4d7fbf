import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago, drawn at random from 20000–29999: below Linux's
 * ephemeral range (32768+), so outbound connections of Envoy, the router and the clients cannot
 * take it between this check and the bind. Concurrent test files rarely draw the same port, and
 * callers retry a start that hits one (test/support/stack.ts).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

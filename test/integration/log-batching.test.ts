/**
 * The router's stdout logger writes its lines in batches (src/telemetry/logger.ts): these run it in
 * a process of its own, as the router does, and read what reaches stdout.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';

const LOGGER = pathToFileURL(join(PROJECT_ROOT, 'dist', 'telemetry', 'logger.js')).href;

/** Runs `body` after `const log = createLogger('info')` in a new Node process; resolves its stdout lines as they arrive. */
function loggingProcess(body: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { createLogger } from '${LOGGER}';\nconst log = createLogger('info');\n${body}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // Also when the test fails or times out.
  onTestFinished(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, lines };
}

describe('batched log lines', () => {
  it('flushed before exiting, as the router stops, every line it logged is out in order, the ones still waiting for their batch too', async () => {
    const p = loggingProcess(`for (let i = 0; i < 25; i++) log.info({ i, pad: 'x'.repeat(900) }, 'request');\nlog.flush(() => process.exit(0));`);
    expect(await p.exited).toBe(0);
    expect(p.lines().map((l) => l.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('exiting at once (a fatal error) still writes every line, those waiting for their batch too', async () => {
    const p = loggingProcess(`for (let i = 0; i < 25; i++) log.info({ i, pad: 'x'.repeat(900) }, 'request');\nprocess.exit(3);`);
    expect(await p.exited).toBe(3);
    // A batch the thread pool was still writing may land after the rest (batchedStdout).
    expect(p.lines().map((l) => l.i).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('a lone line of a running router reaches stdout without waiting for its batch to fill or the process to end', async () => {
    const p = loggingProcess(`log.info({ requestId: 'r-1' }, 'request');\nsetInterval(() => {}, 1000);`);
    // Bounded by the test's own timeout only: the flush timer is 100 ms, and this asserts it runs.
    while (p.lines().length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(p.lines()).toMatchObject([{ requestId: 'r-1', msg: 'request' }]);
    expect(p.child.exitCode).toBeNull();
  });

  it('an uncaught error still leaves the lines logged before it on stdout', async () => {
    const p = loggingProcess(`log.info({ step: 1 }, 'request');\nlog.info({ step: 2 }, 'request');\nsetImmediate(() => { throw new Error('boom'); });`);
    expect(await p.exited).not.toBe(0);
    expect(p.lines().map((l) => l.step)).toEqual([1, 2]);
  });
});

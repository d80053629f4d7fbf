/** Child processes for the demo and the tests: started, awaited until ready, stopped for sure. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Where its output goes, when started with one. */
  readonly logFile?: string;
  /** Output so far, for error messages when a start fails. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** The child writes its output straight into this file (no piping through this process). */
  readonly logFile?: string;
  /** Without a log file: echo the output to this process's stdout with a `[name]` prefix (the demo). */
  readonly echo?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

const KEEP_OUTPUT = 64 * 1024;

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const env = options.env ?? process.env;
  let child: ChildProcess;
  let output: () => string;
  if (options.logFile !== undefined) {
    const file = options.logFile;
    const fd = openSync(file, 'w');
    child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    output = () => readFileSync(file, 'utf8').slice(-KEEP_OUTPUT);
  } else {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let kept = '';
    const onData = (data: Buffer): void => {
      kept = (kept + data.toString('utf8')).slice(-KEEP_OUTPUT);
      if (options.echo === true) {
        for (const line of data.toString('utf8').split('\n')) if (line !== '') process.stdout.write(`[${name}] ${line}\n`);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    output = () => kept;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    process: child,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
    output,
    stop: async (graceMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Polls `check` until it returns true; fails with `describe()` after `timeoutMs`, or at once when
 * `child` (the process being waited for) has exited.
 */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, describe: () => string, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(`${child.name} exited (${child.process.exitCode ?? child.process.signalCode}): ${describe()}`);
    }
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.ok;
}

/** True when every host of every named cluster passed its health checks (Envoy admin /clusters). */
export async function clustersHealthy(adminUrl: string, clusters: readonly string[]): Promise<boolean> {
  const text = await (await fetch(`${adminUrl}/clusters`)).text();
  for (const cluster of clusters) {
    const flags = text.split('\n').filter((l) => l.startsWith(`${cluster}::`) && l.includes('::health_flags::'));
    if (flags.length === 0 || flags.some((l) => !l.endsWith('::healthy'))) return false;
  }
  return true;
}

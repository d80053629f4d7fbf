/**
 * Load generators over plain keep-alive HTTP/1.1 (node:http, the lightest client Node has).
 * Closed loop: N workers, each sends its next request when the last one ended. Open loop: requests
 * start on a fixed schedule whatever happens, and latency is measured from the scheduled start, so a
 * stalled server cannot hide its queueing (no coordinated omission).
 */
import { Agent, request, type ClientRequest } from 'node:http';

export interface Workload {
  readonly name: string;
  readonly body: Buffer;
  readonly stream: boolean;
  /** Sent with every request; `x-mock-*` headers shape the mock provider's answer. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface LoadResult {
  /** Per successful request, ms from (scheduled) start to the last byte. */
  readonly latencyMs: number[];
  /** Per successful request, ms to the response headers. */
  readonly ttfbMs: number[];
  /** Streams only: ms between consecutive body chunks. */
  readonly gapMs: number[];
  /** Streams only, per successful request: ms from (scheduled) start to the first body chunk (the first event a client can show). */
  readonly firstChunkMs: number[];
  readonly ok: number;
  readonly errors: number;
  /** Per request not answered 200: its status (0 without a response), whether the router refused it as overloaded, ms from (scheduled) start to its end. */
  readonly failures: Array<{ status: number; overloaded: boolean; ms: number }>;
  /** Open loop: requests never sent because too many were already in flight. */
  readonly dropped: number;
  readonly elapsedMs: number;
}

/** Where to send: a loopback port and the headers that target needs (a peer's routing headers). */
export interface Endpoint {
  readonly port: number;
  readonly headers: Readonly<Record<string, string>>;
}

const MAX_IN_FLIGHT = 4000;

function oneRequest(agent: Agent, to: Endpoint, w: Workload, startedAt: number, out: Mutable): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: to.port,
        method: 'POST',
        path: '/v1/chat/completions',
        agent,
        headers: { ...to.headers, ...w.headers, 'content-type': 'application/json', 'content-length': w.body.length },
      },
      (res) => {
        const ttfb = performance.now() - startedAt;
        let last = -1;
        let firstChunk = -1;
        let errorBody = '';
        res.on('data', (chunk: Buffer) => {
          if (res.statusCode !== 200) errorBody += chunk.toString();
          if (!w.stream) return;
          const now = performance.now();
          if (last >= 0) out.gapMs.push(now - last);
          else firstChunk = now - startedAt;
          last = now;
        });
        res.on('end', () => {
          if (res.statusCode === 200) {
            out.ok++;
            out.latencyMs.push(performance.now() - startedAt);
            out.ttfbMs.push(ttfb);
            if (firstChunk >= 0) out.firstChunkMs.push(firstChunk);
          } else failed(out, res.statusCode ?? 0, errorBody.includes('"code":"overloaded"'), startedAt);
          resolve();
        });
        res.on('error', () => {
          failed(out, 0, false, startedAt);
          resolve();
        });
      },
    );
    req.on('error', () => {
      failed(out, 0, false, startedAt);
      resolve();
    });
    req.end(w.body);
  });
}

type Mutable = { -readonly [K in keyof LoadResult]: LoadResult[K] };

const empty = (): Mutable => ({ latencyMs: [], ttfbMs: [], gapMs: [], firstChunkMs: [], ok: 0, errors: 0, failures: [], dropped: 0, elapsedMs: 0 });

function failed(out: Mutable, status: number, overloaded: boolean, startedAt: number): void {
  out.errors++;
  out.failures.push({ status, overloaded, ms: performance.now() - startedAt });
}

/** N workers for `durationMs`, or until `maxRequests` were sent if that comes first. */
export async function closedLoop(to: Endpoint, w: Workload, concurrency: number, durationMs: number, maxRequests = Infinity): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const out = empty();
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && sent++ < maxRequests) await oneRequest(agent, to, w, performance.now(), out);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  out.elapsedMs = performance.now() - t0;
  agent.destroy();
  return out;
}

export async function openLoop(to: Endpoint, w: Workload, ratePerSec: number, durationMs: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const out = empty();
  const paced = await pace(ratePerSec, durationMs, MAX_IN_FLIGHT, (scheduledAt) => oneRequest(agent, to, w, scheduledAt, out));
  out.dropped = paced.dropped;
  out.elapsedMs = paced.elapsedMs;
  agent.destroy();
  return out;
}

/**
 * Open loop: starts one request every 1/rate s for `durationMs`, each timed from when it was due
 * (a late start counts against the target, not for it); past `maxInFlight` unanswered, a due
 * request is dropped and counted. Resolves once every started request has.
 */
export async function pace(ratePerSec: number, durationMs: number, maxInFlight: number, start: (scheduledAt: number) => Promise<void>): Promise<{ dropped: number; elapsedMs: number }> {
  const total = Math.round((ratePerSec * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSec;
  const pending: Promise<void>[] = [];
  let inFlight = 0;
  let dropped = 0;
  const t0 = performance.now();
  for (let i = 0; i < total; ) {
    const now = performance.now();
    // Send everything that is due; the timer below wakes at most every millisecond.
    while (i < total && t0 + i * intervalMs <= now) {
      const scheduled = t0 + i * intervalMs;
      i++;
      if (inFlight >= maxInFlight) {
        dropped++;
        continue;
      }
      inFlight++;
      pending.push(start(scheduled).then(() => void inFlight--));
    }
    if (i < total) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1, t0 + i * intervalMs - performance.now()))));
  }
  await Promise.all(pending);
  return { dropped, elapsedMs: performance.now() - t0 };
}

/** Streams held open at once: how many, how many failed to open, and how to let them all go. */
export interface HeldStreams {
  readonly open: number;
  readonly errors: number;
  readonly elapsedMs: number;
  /** Cuts every stream (the client goes away) and resolves once their sockets closed. */
  release(): Promise<void>;
}

/**
 * Opens `count` streams of a workload whose upstream stalls after its first chunk, `batch` at a time:
 * a batch is sent once every stream of the one before got its first chunk through the gateway (or
 * failed), so a gateway is measured holding the streams, not queueing a thousand requests at once.
 * They stay open until `release()`.
 */
export async function holdStreams(to: Endpoint, w: Workload, count: number, batch = 50): Promise<HeldStreams> {
  const agent = new Agent({ keepAlive: false, maxSockets: count });
  const requests: ClientRequest[] = [];
  let open = 0;
  let errors = 0;
  const openOne = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: to.port, method: 'POST', path: '/v1/chat/completions', agent, headers: { ...to.headers, ...w.headers, 'content-type': 'application/json', 'content-length': w.body.length } },
        (res) => {
          if (res.statusCode !== 200) {
            errors++;
            res.resume();
            return resolve();
          }
          res.once('data', () => {
            open++;
            resolve();
          });
          res.on('error', () => undefined);
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(w.body);
      requests.push(req);
    });
  const t0 = performance.now();
  for (let started = 0; started < count; started += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - started) }, openOne));
  }
  const elapsedMs = performance.now() - t0;
  return {
    open,
    errors,
    elapsedMs,
    release: async () => {
      const closed = requests.map((r) => (r.destroyed ? Promise.resolve() : new Promise<void>((resolve) => r.once('close', () => resolve()))));
      for (const r of requests) r.destroy();
      await Promise.all(closed);
      agent.destroy();
    },
  };
}

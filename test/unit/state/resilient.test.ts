/** The circuit breaker and the write queue in front of the Redis store, with a pinned clock. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../../src/devstack/processes.js';
import { Breaker } from '../../../src/state/breaker.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { ResilientStore, StoreUnavailableError } from '../../../src/state/resilient.js';
import { record } from '../../support/contracts/state-store.js';

describe('Breaker', () => {
  it('opens after the threshold of failures in a row, and closes on the next success', () => {
    const changes: boolean[] = [];
    const b = new Breaker(3, (open) => changes.push(open));
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.isOpen).toBe(false);
    b.failure();
    expect(b.isOpen).toBe(true);
    b.failure();
    b.success();
    expect(b.isOpen).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('trips open at once, whatever the count', () => {
    const changes: boolean[] = [];
    const b = new Breaker(3, (open) => changes.push(open));
    b.trip();
    b.trip();
    expect(b.isOpen).toBe(true);
    expect(changes).toEqual([true]);
  });
});

/** A memory store that can be made to hang, like a Redis stopped with SIGSTOP. */
class StallableStore extends MemoryStore {
  stalled = false;
  private readonly hang = <T>(run: () => T | Promise<T>): Promise<T> => (this.stalled ? new Promise<T>(() => {}) : Promise.resolve(run()));
  override loadOf(...a: Parameters<MemoryStore['loadOf']>) {
    return this.hang(() => super.loadOf(...a));
  }
  override recordUsage(...a: Parameters<MemoryStore['recordUsage']>) {
    return this.hang(() => super.recordUsage(...a));
  }
  override ping() {
    return this.hang(() => super.ping());
  }
  /** Answers only when `release` is called: one slow call while the store answers others. */
  slowUsed(): { release: () => void } {
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    this.used = (charges) => gate.then(() => MemoryStore.prototype.used.call(this, charges));
    return { release };
  }
}

/** Holds the event loop, as a long GC pause or a CPU burst in the router would. */
const holdEventLoop = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('ResilientStore', () => {
  const LOAD = { latencySamples: 20, latencyMaxAgeMs: 60_000 };
  const options = { hotPathTimeoutMs: 10, timeoutMs: 30, breakerThreshold: 2, breakerOpenMs: 50, maxQueuedWrites: 3, log: pino({ level: 'silent' }) };

  it('times out hot reads, then fails them at once while open; queues usage records; probes in the background and replays in order', async () => {
    const inner = new StallableStore(100, LOAD);
    const store = new ResilientStore(inner, options);
    await store.ping();
    inner.stalled = true;
    // Nothing answered since the call was sent: the store is silent, and the breaker opens on this
    // first timeout rather than after `breakerThreshold` requests have each waited theirs out.
    await expect(store.loadOf(['d'], 0)).rejects.toThrow(/timed out after 10 ms/);
    expect(store.degraded).toBe(true);
    // At once: before any timer could fire, so no timeout was waited out.
    const failing = store.loadOf(['d'], 0);
    const first = await Promise.race([failing.then(() => 'answered', () => 'failed'), new Promise((r) => setTimeout(() => r('waited'), 0))]);
    expect(first).toBe('failed');
    await expect(failing).rejects.toBeInstanceOf(StoreUnavailableError);
    for (const id of ['r1', 'r2', 'r3']) await store.recordUsage(record({ requestId: id }));
    expect(store.queuedWrites).toBe(3);
    await store.recordUsage(record({ requestId: 'r4' })); // over the bound: the oldest goes
    expect(store.queuedWrites).toBe(3);
    inner.stalled = false;
    await waitUntil(async () => !store.degraded && store.queuedWrites === 0, 10_000, () => 'the store never recovered');
    expect((await store.usageLog(10)).map((r) => r.requestId)).toEqual(['r2', 'r3', 'r4']);
    await store.close();
  });

  it('keeps the in-flight count of a request that ends while the store is unreachable', async () => {
    const inner = new StallableStore(100, LOAD);
    const store = new ResilientStore(inner, options);
    const end = { deployment: 'd', startedMs: 0, endedMs: 1, estimatedTokens: 10, actualTokens: 10, sample: null };
    await store.requestStarted('d', 0, 10);
    inner.stalled = true;
    await expect(store.loadOf(['d'], 0)).rejects.toThrow(/timed out/);
    expect(store.degraded).toBe(true);
    // The request ends, another starts, while the breaker is open.
    await store.requestEnded(end);
    await store.requestStarted('d', 1, 10);
    inner.stalled = false;
    await waitUntil(async () => !store.degraded, 10_000, () => 'the store never recovered');
    expect((await store.loadOf(['d'], 2))[0]!.inFlight).toBe(1);
    await store.requestEnded(end);
    expect((await store.loadOf(['d'], 2))[0]!.inFlight).toBe(0);
    await store.close();
  });

  it('counts one slow call among answers as one failure, not as a silent store', async () => {
    const inner = new StallableStore(100, LOAD);
    const store = new ResilientStore(inner, options);
    const slow = inner.slowUsed();
    const waiting = store.used([]);
    await store.loadOf(['d'], 0); // the store answers meanwhile
    await expect(waiting).rejects.toThrow(/timed out after 10 ms/);
    expect(store.degraded).toBe(false);
    slow.release();
    await store.close();
  });

  it('does not call a reply late when the router itself held the event loop past the timeout', async () => {
    const inner = new StallableStore(100, LOAD);
    const store = new ResilientStore(inner, options);
    // The reply is ready on the loop's next turn (as a socket read would be), but the router is busy
    // for three timeouts' worth first: its timer and the reply come due together.
    inner.loadOf = () => new Promise((r) => setImmediate(() => r([])));
    await new Promise((r) => setImmediate(r)); // from the loop's last phase, so timers come first next turn
    const load = store.loadOf(['d'], 0);
    holdEventLoop(30);
    await expect(load).resolves.toEqual([]);
    expect(store.degraded).toBe(false);
    await store.close();
  });
});

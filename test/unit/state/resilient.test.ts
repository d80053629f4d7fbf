/** The circuit breaker and the write queue in front of the Redis store, with a pinned clock. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
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
});

/** A memory store that can be made to hang, like a Redis stopped with SIGSTOP. */
class StallableStore extends MemoryStore {
  stalled = false;
  private readonly hang = <T>(run: () => Promise<T>): Promise<T> => (this.stalled ? new Promise<T>(() => {}) : run());
  override loadOf(...a: Parameters<MemoryStore['loadOf']>) {
    return this.hang(() => super.loadOf(...a));
  }
  override recordUsage(...a: Parameters<MemoryStore['recordUsage']>) {
    return this.hang(() => super.recordUsage(...a));
  }
  override ping() {
    return this.hang(() => super.ping());
  }
}

describe('ResilientStore', () => {
  const LOAD = { latencySamples: 20, latencyMaxAgeMs: 60_000 };
  const options = { hotPathTimeoutMs: 10, timeoutMs: 30, breakerThreshold: 2, breakerOpenMs: 50, maxQueuedWrites: 3, log: pino({ level: 'silent' }) };

  it('times out hot reads, then fails them at once while open; queues usage records; probes in the background and replays in order', async () => {
    const inner = new StallableStore(100, LOAD);
    const store = new ResilientStore(inner, options);
    inner.stalled = true;
    await expect(store.loadOf(['d'], 0)).rejects.toThrow(/timed out after 10 ms/);
    await expect(store.loadOf(['d'], 0)).rejects.toThrow(/timed out/);
    expect(store.degraded).toBe(true);
    const t = performance.now();
    await expect(store.loadOf(['d'], 0)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - t).toBeLessThan(5);
    for (const id of ['r1', 'r2', 'r3']) await store.recordUsage(record({ requestId: id }));
    expect(store.queuedWrites).toBe(3);
    await store.recordUsage(record({ requestId: 'r4' })); // over the bound: the oldest goes
    expect(store.queuedWrites).toBe(3);
    inner.stalled = false;
    await new Promise((r) => setTimeout(r, 400));
    expect([store.degraded, store.queuedWrites]).toEqual([false, 0]);
    expect((await store.usageLog(10)).map((r) => r.requestId)).toEqual(['r2', 'r3', 'r4']);
    await store.close();
  });
});

/** The event-loop lag sampler, on an injected clock and fake timers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lagAt, LoopLag } from '../../../src/telemetry/loop-lag.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('lagAt', () => {
  it('is the last tick\'s lateness, or how far past its due time the next tick is, whichever is more', () => {
    expect(lagAt({ lastLateMs: 0, nextDueMs: 1000 }, 990)).toBe(0);
    expect(lagAt({ lastLateMs: 30, nextDueMs: 1000 }, 990)).toBe(30);
    expect(lagAt({ lastLateMs: 30, nextDueMs: 1000 }, 1250)).toBe(250);
  });
});

describe('LoopLag', () => {
  it('reads a turn of the loop that overruns while it runs, then the tick\'s lateness, then recovers', () => {
    vi.useFakeTimers();
    let now = 10_000;
    const lag = new LoopLag(50, () => now);
    expect(lag.ms()).toBe(0);
    // A turn that runs 300 ms past the tick's due time: seen before the timer can fire.
    now += 350;
    expect(lag.ms()).toBe(300);
    vi.advanceTimersByTime(50); // the tick fires, 300 ms late
    expect(lag.ms()).toBe(300);
    now += 50;
    vi.advanceTimersByTime(50); // on time again
    expect(lag.ms()).toBe(0);
    lag.stop();
    now += 10_000;
    expect(lag.ms()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

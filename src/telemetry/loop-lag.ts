/**
 * How late the event loop runs: a timer due every `intervalMs` notes by how much it fired late.
 * Each message from Envoy waits about that long before the router reads it, so the lag is the
 * router's own measure of falling behind (admission/overload.ts sheds on it).
 *
 * Read between ticks, the lag is the larger of the last tick's lateness and how far past its due
 * time the next tick already is: in a long turn of the loop (a burst of messages read in one go)
 * the lag grows while the turn runs, before the timer can fire. The timer is unref'd, so it never
 * keeps the process alive. Chosen over perf_hooks.monitorEventLoopDelay, which needs a second timer
 * to read and reset its histogram and cannot see the turn in progress (docs/decisions.md).
 */

export interface LagTicks {
  /** How late the last tick fired, in ms. */
  readonly lastLateMs: number;
  /** When the next tick is due (the clock's ms). */
  readonly nextDueMs: number;
}

/** The lag at `nowMs`: pure, so the reading can be tested with any clock. */
export function lagAt(ticks: LagTicks, nowMs: number): number {
  return Math.max(ticks.lastLateMs, nowMs - ticks.nextDueMs, 0);
}

/** Samples from construction until stop(). */
export class LoopLag {
  private ticks: LagTicks;
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.ticks = { lastLateMs: 0, nextDueMs: now() + intervalMs };
    const tick = (): void => {
      const at = this.now();
      this.ticks = { lastLateMs: Math.max(0, at - this.ticks.nextDueMs), nextDueMs: at + this.intervalMs };
      this.timer = setTimeout(tick, this.intervalMs).unref();
    };
    this.timer = setTimeout(tick, intervalMs).unref();
  }

  /** The lag now, in ms. */
  ms(): number {
    return lagAt(this.ticks, this.now());
  }

  /** No more ticks: the last lateness measured stays the reading. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ticks = { lastLateMs: this.ticks.lastLateMs, nextDueMs: Infinity };
  }
}

/**
 * A circuit breaker for the state store: after `threshold` failures in a row it opens, and calls fail
 * at once instead of waiting on a store that does not answer; after `openMs` one call is let through
 * as a probe, and its success closes the breaker again. The clock is a parameter.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export class Breaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number,
    /** Told when the breaker opens (true) or closes (false). */
    private readonly onChange: (open: boolean) => void,
  ) {}

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Whether a call may go to the store now; in half-open state only the probe may. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open' && this.now() - this.openedAt >= this.openMs) {
      this.state = 'half-open';
      return true;
    }
    return false;
  }

  success(): void {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.failures = 0;
    if (wasOpen) this.onChange(false);
  }

  failure(): void {
    this.failures += 1;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.threshold)) {
      const wasClosed = this.state === 'closed';
      this.state = 'open';
      this.openedAt = this.now();
      if (wasClosed) this.onChange(true);
    }
  }
}

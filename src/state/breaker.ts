/**
 * A circuit breaker for the state store: after `threshold` failures in a row it opens (or at once, when
 * tripped), and calls fail at once instead of waiting on a store that does not answer. Requests never
 * probe: the owner checks the store in the background and closes the breaker when it answers again.
 */
export class Breaker {
  private open = false;
  private failures = 0;

  constructor(
    private readonly threshold: number,
    /** Told when the breaker opens (true) or closes (false). */
    private readonly onChange: (open: boolean) => void,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  success(): void {
    this.failures = 0;
    if (this.open) {
      this.open = false;
      this.onChange(false);
    }
  }

  /** Opens at once: the owner knows the store is not answering, whatever the count. */
  trip(): void {
    this.failures = this.threshold;
    if (!this.open) {
      this.open = true;
      this.onChange(true);
    }
  }

  failure(): void {
    this.failures += 1;
    if (!this.open && this.failures >= this.threshold) {
      this.open = true;
      this.onChange(true);
    }
  }
}

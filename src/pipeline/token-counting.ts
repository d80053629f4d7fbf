/**
 * Prompt counts, kept from delaying other requests: the event loop runs one slice of counting (at
 * most `SLICE_MS`) per turn, for one prompt at a time, the prompts taking turns. Whatever is being
 * counted, another request waits at most a slice per turn it needs, and however many prompts are
 * being counted, counting takes no more of the loop. A count stops at its budget (from when it was
 * asked for, waiting included); what it did not reach counts one token a byte (routing/tokens.ts), so
 * a prompt too costly to count in time is taken at its bound, never as shorter than it is.
 *
 * One per process: counts started under one configuration share the loop with those of the next.
 */
import { loadTokenizer, PromptTokenCounter, tokenizerLoaded, type PromptText } from '../routing/tokens.js';

/**
 * The longest run of counting between two turns of the event loop. Segments cost up to ~0.5 ms each
 * on a loaded machine (bench/token-count.ts: under 0.5 µs a byte, 768 bytes at most), so a slice
 * may run past this by one.
 */
export const SLICE_MS = 4;

interface Count {
  readonly counter: PromptTokenCounter;
  readonly deadlineMs: number;
  readonly resolve: (tokens: number) => void;
  readonly reject: (err: unknown) => void;
}

export class TokenCounting {
  /** Counts waiting for their next slice, in turn. */
  private readonly queue: Count[] = [];
  private scheduled = false;

  /** `now`: a monotonic clock in ms (tests drive it). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The prompt's tokens: exact as far as `budgetMs` allows, bounded by bytes past it. Loads the tokenizer first if needed. */
  count(prompt: PromptText, budgetMs: number): Promise<number> {
    const deadlineMs = this.now() + budgetMs;
    const start = () =>
      new Promise<number>((resolve, reject) => {
        this.queue.push({ counter: new PromptTokenCounter(prompt), deadlineMs, resolve, reject });
        this.schedule();
      });
    return tokenizerLoaded() ? start() : loadTokenizer().then(start);
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.slice();
      this.schedule();
    });
  }

  /** One slice of the count whose turn it is. */
  private slice(): void {
    const count = this.queue.shift()!;
    const sliceEndMs = Math.min(count.deadlineMs, this.now() + SLICE_MS);
    try {
      let more = !count.counter.done;
      while (more && this.now() < sliceEndMs) more = count.counter.step();
      if (more && this.now() < count.deadlineMs) this.queue.push(count);
      else count.resolve(count.counter.tokens());
    } catch (err) {
      count.reject(err);
    }
  }
}

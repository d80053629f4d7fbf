/**
 * Who pays when virtual keys are off (`auth.mode: off`): there is no key, only whatever token the
 * client presents, and each distinct usage id is a per-day aggregate kept for good (memory and
 * Redis). So by default every such request counts as `anonymous`. An operator who wants spend per
 * token sets `auth.anonymous_ids_per_day`: the first that many distinct tokens this router process
 * sees in a UTC day are counted under their own id (the first 16 hex digits of the token's SHA-256,
 * never the token), the others as `anonymous` — at most that many ids a day per process.
 */
import { hashKey, presentedKey } from './keys.js';

const ANONYMOUS = 'anonymous';

const DAY_MS = 86_400_000;

export class AnonymousIds {
  private day = -1;
  /** The ids given out today. */
  private readonly today = new Set<string>();

  /** `previous`: the ids before a config reload, still counted against today's limit. */
  constructor(
    private readonly perDay: number,
    previous?: AnonymousIds,
  ) {
    if (previous === undefined) return;
    this.day = previous.day;
    for (const id of previous.today) this.today.add(id);
  }

  /** The usage id of a request without a virtual key. */
  idOf(headers: Readonly<Record<string, string>>, nowMs: number): string {
    if (this.perDay === 0) return ANONYMOUS;
    const presented = presentedKey(headers);
    if (presented === null) return ANONYMOUS;
    const day = Math.floor(nowMs / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.today.clear();
    }
    const id = hashKey(presented).slice(0, 16);
    if (this.today.has(id)) return id;
    if (this.today.size >= this.perDay) return ANONYMOUS;
    this.today.add(id);
    return id;
  }
}

/** Who pays with keys off: one shared id by default, per-token ids only up to a daily bound. */
import { describe, expect, it } from 'vitest';
import { AnonymousIds } from '../../../src/auth/anonymous.js';
import { hashKey } from '../../../src/auth/keys.js';

const DAY = Date.UTC(2026, 10, 22);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('AnonymousIds', () => {
  it('by default counts every caller as anonymous, whatever token it presents', () => {
    const ids = new AnonymousIds(0);
    const seen = new Set(Array.from({ length: 1000 }, (_, i) => ids.idOf(bearer(`sk-random-${i}`), DAY)));
    expect([...seen]).toEqual(['anonymous']);
  });

  it('with a daily bound: the first tokens of a day get their own id (a hash prefix, never the token), later ones are anonymous', () => {
    const ids = new AnonymousIds(2);
    const a = hashKey('sk-a').slice(0, 16);
    const b = hashKey('sk-b').slice(0, 16);
    expect(ids.idOf(bearer('sk-a'), DAY)).toBe(a);
    expect(ids.idOf({ 'x-api-key': 'sk-b' }, DAY + 1)).toBe(b);
    expect(ids.idOf(bearer('sk-c'), DAY + 2)).toBe('anonymous');
    expect(ids.idOf(bearer('sk-a'), DAY + 3)).toBe(a); // still its own id, the same day
    expect(ids.idOf({}, DAY + 4)).toBe('anonymous');
    // A new UTC day starts the count again.
    expect(ids.idOf(bearer('sk-c'), DAY + 86_400_000)).toBe(hashKey('sk-c').slice(0, 16));
  });

  it('a config reload carries the day on: its ids still count against the bound', () => {
    const before = new AnonymousIds(1);
    expect(before.idOf(bearer('sk-a'), DAY)).not.toBe('anonymous');
    const after = new AnonymousIds(1, before);
    expect(after.idOf(bearer('sk-b'), DAY + 1)).toBe('anonymous');
    expect(after.idOf(bearer('sk-a'), DAY + 1)).toBe(hashKey('sk-a').slice(0, 16));
  });
});

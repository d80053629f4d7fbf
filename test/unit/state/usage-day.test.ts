import fc from 'fast-check';
import { expect, it } from 'vitest';
import { usageDay } from '../../../src/state/store.js';

it('is the UTC calendar day of the timestamp, at the edges of days and alternating between them', () => {
  const lastMs = Date.UTC(2026, 11, 1, 23, 59, 59, 999);
  expect(usageDay(lastMs)).toBe('2026-12-01');
  expect(usageDay(lastMs + 1)).toBe('2026-12-02');
  expect(usageDay(lastMs)).toBe('2026-12-01');
  fc.assert(
    fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) }), (ms) => {
      expect(usageDay(ms)).toBe(new Date(ms).toISOString().slice(0, 10));
    }),
    { seed: 5, numRuns: 2000 },
  );
});

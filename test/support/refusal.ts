/** The RouterError a translation throws for a request it refuses. */
import { expect } from 'vitest';
import { RouterError } from '../../src/errors.js';

/** The RouterError `f` throws; the test fails when it throws anything else, or nothing. */
export function refusalOf(f: () => unknown): RouterError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(RouterError);
    return err as RouterError;
  }
  throw new Error('expected a refusal');
}

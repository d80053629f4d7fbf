/** The overload decision at the request-headers phase, on injected lag and counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { overload, overloadedError, type OverloadLimits } from '../../../src/admission/overload.js';

const LIMITS: OverloadLimits = {
  maxEventLoopLagMs: 200,
  maxInFlight: 10,
  protectedTiers: new Set(['premium']),
  protectedMaxEventLoopLagMs: 1000,
  protectedMaxInFlight: 40,
  retryAfterSec: 2,
};

describe('overload', () => {
  it('lets requests on below both bounds', () => {
    expect(overload(LIMITS, null, { eventLoopLagMs: 199.9, inFlight: 9 })).toBeNull();
  });

  it('refuses at the lag bound, and at the in-flight bound (the lag named first when both are reached)', () => {
    expect(overload(LIMITS, 'free', { eventLoopLagMs: 200, inFlight: 0 })).toEqual({ reason: 'event_loop_lag', value: 200, limit: 200 });
    expect(overload(LIMITS, 'free', { eventLoopLagMs: 3, inFlight: 10 })).toEqual({ reason: 'in_flight', value: 10, limit: 10 });
    expect(overload(LIMITS, null, { eventLoopLagMs: 450.4, inFlight: 99 })).toEqual({ reason: 'event_loop_lag', value: 450, limit: 200 });
  });

  it('a protected tier is served up to its higher bounds, then refused too', () => {
    expect(overload(LIMITS, 'premium', { eventLoopLagMs: 999, inFlight: 39 })).toBeNull();
    expect(overload(LIMITS, 'premium', { eventLoopLagMs: 1000, inFlight: 0 })).toEqual({ reason: 'event_loop_lag', value: 1000, limit: 1000 });
    expect(overload(LIMITS, 'premium', { eventLoopLagMs: 0, inFlight: 40 })).toEqual({ reason: 'in_flight', value: 40, limit: 40 });
  });

  it('more pressure never turns a refusal into an admission, and a protected tier is refused only when every tier is', () => {
    const pressure = fc.record({ eventLoopLagMs: fc.double({ min: 0, max: 5000, noNaN: true }), inFlight: fc.nat(100) });
    fc.assert(
      fc.property(pressure, fc.double({ min: 0, max: 1000, noNaN: true }), fc.nat(50), fc.constantFrom(null, 'free', 'premium'), (p, moreLag, moreInFlight, tier) => {
        const more = { eventLoopLagMs: p.eventLoopLagMs + moreLag, inFlight: p.inFlight + moreInFlight };
        if (overload(LIMITS, tier, p) !== null) expect(overload(LIMITS, tier, more)).not.toBeNull();
        if (overload(LIMITS, 'premium', p) !== null) expect(overload(LIMITS, 'free', p)).not.toBeNull();
      }),
    );
  });

  it('answers 503 overloaded in OpenAI format with Retry-After, naming the bound', () => {
    const err = overloadedError({ reason: 'in_flight', value: 10, limit: 10 }, 2);
    expect([err.status, err.retryAfterSec]).toEqual([503, 2]);
    expect(err.toJSON()).toEqual({
      error: { message: 'The gateway is overloaded (10 requests await a routing decision, limit 10); retry after 2 s.', type: 'service_unavailable_error', param: null, code: 'overloaded' },
    });
    expect(overloadedError({ reason: 'event_loop_lag', value: 312, limit: 200 }, 1).message).toBe('The gateway is overloaded (its event loop is 312 ms behind, limit 200 ms); retry after 1 s.');
  });
});

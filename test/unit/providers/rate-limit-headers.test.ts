/** Providers' x-ratelimit-* headers, as OpenAI sends them and as the mock provider sends them. */
import { describe, expect, it } from 'vitest';
import { MinuteLimiter } from '../../../src/mock/rate-limit.js';
import { parseDuration, rateLimitsOf } from '../../../src/providers/openai/rate-limit-headers.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 15);

describe('parseDuration', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['1h2m', 3_720_000],
    ['', null],
    ['soon', null],
    ['5s later', null],
  ])('%j → %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('rateLimitsOf', () => {
  it('reads both windows with their reset times', () => {
    const headers = {
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': '29000',
      'x-ratelimit-reset-tokens': '2s',
    };
    expect(rateLimitsOf(headers, NOW)).toEqual({
      requests: { limit: 500, remaining: 499, resetAtMs: NOW + 120 },
      tokens: { limit: 30000, remaining: 29000, resetAtMs: NOW + 2000 },
    });
  });

  it('ignores incomplete or malformed windows', () => {
    expect(rateLimitsOf({}, NOW)).toBeNull();
    expect(rateLimitsOf({ 'x-ratelimit-limit-tokens': '100', 'x-ratelimit-remaining-tokens': '5' }, NOW)).toBeNull();
    expect(rateLimitsOf({ 'x-ratelimit-limit-tokens': 'lots', 'x-ratelimit-remaining-tokens': '5', 'x-ratelimit-reset-tokens': '1s' }, NOW)).toBeNull();
  });
});

describe('mock provider limits', () => {
  it('counts requests and tokens per minute, reports them, and refuses with Retry-After once spent', () => {
    const limiter = new MinuteLimiter();
    const limits = { tokensPerMinute: 100, requestsPerMinute: 10 };
    const first = limiter.take(limits, 60, NOW);
    expect(first).toEqual({
      allowed: true,
      headers: {
        'x-ratelimit-limit-requests': '10',
        'x-ratelimit-remaining-requests': '9',
        'x-ratelimit-reset-requests': '45s',
        'x-ratelimit-limit-tokens': '100',
        'x-ratelimit-remaining-tokens': '40',
        'x-ratelimit-reset-tokens': '45s',
      },
    });
    expect(rateLimitsOf(first.headers, NOW)?.tokens).toEqual({ limit: 100, remaining: 40, resetAtMs: NOW + 45_000 });
    expect(limiter.take(limits, 60, NOW + 1).allowed).toBe(true); // 40 left: still allowed, then spent
    const refused = limiter.take(limits, 1, NOW + 2);
    expect(refused.allowed).toBe(false);
    expect(refused.headers['x-ratelimit-remaining-tokens']).toBe('0');
    expect(refused.headers['retry-after']).toBe('45');
    expect(limiter.take(limits, 60, NOW + 45_000).allowed).toBe(true); // a new minute
  });
});

/** Providers' rate-limit headers (OpenAI's x-ratelimit-*, Anthropic's anthropic-ratelimit-*), as they send them and as the mock provider sends them. */
import { describe, expect, it } from 'vitest';
import { anthropicLimitHeaders } from '../../../src/mock/anthropic/format.js';
import { openaiLimitHeaders } from '../../../src/mock/openai/format.js';
import { MinuteLimiter } from '../../../src/mock/rate-limit.js';
import { rateLimitsOf as anthropicRateLimitsOf } from '../../../src/providers/anthropic/rate-limit-headers.js';
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

  it('holds a reset past an hour to one hour, so a bad value cannot keep a deployment out for good', () => {
    const headers = { 'x-ratelimit-limit-requests': '10', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '99999h' };
    expect(rateLimitsOf(headers, NOW)?.requests).toEqual({ limit: 10, remaining: 0, resetAtMs: NOW + 3_600_000 });
  });
});

describe('Anthropic rateLimitsOf', () => {
  // Recorded from api.anthropic.com (a tier-2 organisation): tokens-* is input + output.
  const RECORDED = {
    'anthropic-ratelimit-requests-limit': '1000',
    'anthropic-ratelimit-requests-remaining': '999',
    'anthropic-ratelimit-requests-reset': '2026-11-22T12:00:16Z',
    'anthropic-ratelimit-tokens-limit': '96000',
    'anthropic-ratelimit-tokens-remaining': '96000',
    'anthropic-ratelimit-tokens-reset': '2026-11-22T12:00:16Z',
    'anthropic-ratelimit-input-tokens-limit': '80000',
    'anthropic-ratelimit-input-tokens-remaining': '80000',
    'anthropic-ratelimit-input-tokens-reset': '2026-11-22T12:00:16Z',
    'anthropic-ratelimit-output-tokens-limit': '16000',
    'anthropic-ratelimit-output-tokens-remaining': '16000',
    'anthropic-ratelimit-output-tokens-reset': '2026-11-22T12:00:17Z',
  };

  it('reads requests and tokens with their RFC 3339 reset times', () => {
    expect(anthropicRateLimitsOf(RECORDED, NOW)).toEqual({
      requests: { limit: 1000, remaining: 999, resetAtMs: NOW + 1000 },
      tokens: { limit: 96000, remaining: 96000, resetAtMs: NOW + 1000 },
    });
  });

  it("reads a reset against the response's date: a provider clock ahead or behind the router's does not move it", () => {
    const ahead = { ...RECORDED, date: 'Sun, 22 Nov 2026 12:00:45 GMT', 'anthropic-ratelimit-requests-reset': '2026-11-22T12:00:47Z' };
    expect(anthropicRateLimitsOf(ahead, NOW)?.requests).toEqual({ limit: 1000, remaining: 999, resetAtMs: NOW + 2000 });
    const behind = { ...RECORDED, date: 'Sun, 22 Nov 2026 11:59:00 GMT', 'anthropic-ratelimit-requests-reset': '2026-11-22T11:59:05Z' };
    expect(anthropicRateLimitsOf(behind, NOW)?.requests).toEqual({ limit: 1000, remaining: 999, resetAtMs: NOW + 5000 });
    // An unreadable date: the reset as a time on the router's clock.
    expect(anthropicRateLimitsOf({ ...RECORDED, date: 'yesterday' }, NOW)?.requests?.resetAtMs).toBe(NOW + 1000);
  });

  it('scales the combined window to the tightest of input and output: a spent output window leaves no headroom', () => {
    const outputSpent = { ...RECORDED, 'anthropic-ratelimit-output-tokens-remaining': '0' };
    expect(anthropicRateLimitsOf(outputSpent, NOW)?.tokens).toEqual({ limit: 96000, remaining: 0, resetAtMs: NOW + 2000 });
    const inputQuarter = { ...RECORDED, 'anthropic-ratelimit-input-tokens-remaining': '20000', 'anthropic-ratelimit-tokens-remaining': '36000' };
    expect(anthropicRateLimitsOf(inputQuarter, NOW)?.tokens).toEqual({ limit: 96000, remaining: 24000, resetAtMs: NOW + 1000 });
  });

  it('without the combined window, input and output limits add up', () => {
    const { 'anthropic-ratelimit-tokens-limit': _l, 'anthropic-ratelimit-tokens-remaining': _r, 'anthropic-ratelimit-tokens-reset': _t, ...split } = RECORDED;
    const halfOutput = { ...split, 'anthropic-ratelimit-output-tokens-remaining': '8000' };
    expect(anthropicRateLimitsOf(halfOutput, NOW)?.tokens).toEqual({ limit: 96000, remaining: 48000, resetAtMs: NOW + 2000 });
  });

  it('ignores incomplete or malformed windows, and resets that are not RFC 3339', () => {
    expect(anthropicRateLimitsOf({}, NOW)).toBeNull();
    expect(anthropicRateLimitsOf({ 'x-ratelimit-limit-tokens': '100', 'x-ratelimit-remaining-tokens': '5', 'x-ratelimit-reset-tokens': '1s' }, NOW)).toBeNull();
    const window = (reset: string) => ({ 'anthropic-ratelimit-requests-limit': '10', 'anthropic-ratelimit-requests-remaining': '5', 'anthropic-ratelimit-requests-reset': reset });
    for (const reset of ['1s', 'Sun, 22 Nov 2026 12:00:16 GMT', '2026-11-22 12:00:16', '2026-11-22T12:00:16', '']) expect(anthropicRateLimitsOf(window(reset), NOW)).toBeNull();
    expect(anthropicRateLimitsOf(window('2026-11-22T13:00:16.5+01:00'), NOW)?.requests).toEqual({ limit: 10, remaining: 5, resetAtMs: NOW + 1500 });
    // A reset already past (the provider's clock behind ours) is now; one years ahead, an hour.
    expect(anthropicRateLimitsOf(window('2026-11-22T11:00:00Z'), NOW)?.requests?.resetAtMs).toBe(NOW);
    expect(anthropicRateLimitsOf(window('2099-01-01T00:00:00Z'), NOW)?.requests?.resetAtMs).toBe(NOW + 3_600_000);
  });
});

describe('mock provider limits', () => {
  it('counts requests and tokens per minute, reports them as OpenAI does, and refuses with Retry-After once spent', () => {
    const limiter = new MinuteLimiter();
    const limits = { tokensPerMinute: 100, requestsPerMinute: 10 };
    const first = limiter.take(limits, 50, 10, NOW);
    expect(first.refused).toBe(false);
    expect(openaiLimitHeaders(first)).toEqual({
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '9',
      'x-ratelimit-reset-requests': '45s',
      'x-ratelimit-limit-tokens': '100',
      'x-ratelimit-remaining-tokens': '40',
      'x-ratelimit-reset-tokens': '45s',
    });
    expect(rateLimitsOf(openaiLimitHeaders(first), NOW)?.tokens).toEqual({ limit: 100, remaining: 40, resetAtMs: NOW + 45_000 });
    expect(limiter.take(limits, 60, 0, NOW + 1).refused).toBe(false); // 40 left: still allowed, then spent
    const refused = limiter.take(limits, 1, 0, NOW + 2);
    expect(refused.refused).toBe(true);
    expect(openaiLimitHeaders(refused)).toMatchObject({ 'x-ratelimit-remaining-tokens': '0', 'retry-after': '45' });
    expect(limiter.take(limits, 60, 0, NOW + 45_000).refused).toBe(false); // a new minute
  });

  it('reports Anthropic\'s windows as Anthropic does, which the Anthropic adapter reads back', () => {
    const limiter = new MinuteLimiter();
    const limits = { requestsPerMinute: 10, tokensPerMinute: 1000, inputTokensPerMinute: 800, outputTokensPerMinute: 200 };
    const first = limiter.take(limits, 100, 150, NOW);
    expect(anthropicLimitHeaders(first)).toEqual({
      'anthropic-ratelimit-requests-limit': '10',
      'anthropic-ratelimit-requests-remaining': '9',
      'anthropic-ratelimit-requests-reset': '2026-11-22T12:01:00Z',
      'anthropic-ratelimit-tokens-limit': '1000',
      'anthropic-ratelimit-tokens-remaining': '750',
      'anthropic-ratelimit-tokens-reset': '2026-11-22T12:01:00Z',
      'anthropic-ratelimit-input-tokens-limit': '800',
      'anthropic-ratelimit-input-tokens-remaining': '700',
      'anthropic-ratelimit-input-tokens-reset': '2026-11-22T12:01:00Z',
      'anthropic-ratelimit-output-tokens-limit': '200',
      'anthropic-ratelimit-output-tokens-remaining': '50',
      'anthropic-ratelimit-output-tokens-reset': '2026-11-22T12:01:00Z',
      date: 'Sun, 22 Nov 2026 12:00:15 GMT',
    });
    // Output is the tightest window (a quarter left): the combined window scaled to it.
    expect(anthropicRateLimitsOf(anthropicLimitHeaders(first), NOW)).toEqual({
      requests: { limit: 10, remaining: 9, resetAtMs: NOW + 45_000 },
      tokens: { limit: 1000, remaining: 250, resetAtMs: NOW + 45_000 },
    });
    expect(limiter.take(limits, 10, 60, NOW + 1).refused).toBe(false); // 50 output tokens left: allowed, then spent
    const refused = limiter.take(limits, 10, 1, NOW + 2);
    expect(refused.refused).toBe(true);
    expect(anthropicLimitHeaders(refused)).toMatchObject({ 'anthropic-ratelimit-output-tokens-remaining': '0', 'retry-after': '45' });
  });
});

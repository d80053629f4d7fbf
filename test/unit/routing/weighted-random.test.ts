import { describe, expect, it } from 'vitest';
import { Router } from '../../../src/routing/choose.js';
import { create } from '../../../src/routing/strategies/weighted-random.js';
import { config, fixedEnv } from '../../support/fixtures.js';

const c = config();
const mini = c.groups.get('gpt-4o-mini')!.deployments; // mini-a weight 3, mini-b weight 1
const req = { requestedModel: 'gpt-4o-mini', stream: false };

describe('weighted-random', () => {
  it.each([
    [0, [0, 1]],
    [0.74, [0, 1]],
    [0.75, [1, 0]],
    [0.999, [1, 0]],
  ])('random %f → order %j', (r, order) => {
    const ranking = create().rank(req, mini, fixedEnv([r]));
    expect(ranking.order).toEqual(order);
    expect(ranking.scores).toEqual([1, 1 / 3]);
  });

  it('handles no candidates and a single candidate', () => {
    expect(create().rank(req, [], fixedEnv())).toEqual({ order: [], scores: [] });
    expect(create().rank(req, [mini[1]!], fixedEnv([0.99]))).toEqual({ order: [0], scores: [1] });
  });

  it('same env → same output', () => {
    expect(create().rank(req, mini, fixedEnv([0.3]))).toEqual(create().rank(req, mini, fixedEnv([0.3])));
  });
});

describe('choose', () => {
  const router = new Router(c);

  it('names the group, strategy, candidates, pick and fallbacks', () => {
    const d = router.choose(req, fixedEnv([0.9]));
    expect(d.outcome).toBe('routed');
    if (d.outcome !== 'routed') return;
    expect(d.primary.name).toBe('mini-b');
    expect(d.fallbacks.map((f) => f.name)).toEqual(['mini-a']);
    expect(d.candidates).toEqual(['mini-a', 'mini-b']);
    expect(d.strategy).toBe('weighted-random');
  });

  it('reports an unknown model as a value, not an exception', () => {
    expect(router.choose({ requestedModel: 'gpt-9', stream: false }, fixedEnv())).toEqual({ outcome: 'unknown_model', requestedModel: 'gpt-9' });
  });
});

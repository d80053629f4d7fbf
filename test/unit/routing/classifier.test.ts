/** The `auto` virtual model of the bundled example: rules in order, then semantic matching, then the default. */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { Classifier } from '../../../src/routing/classifier/index.js';
import { SemanticMatcher } from '../../../src/routing/classifier/semantic.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { loadTokenizer } from '../../../src/routing/tokens.js';
import { counted } from '../../support/fixtures.js';


// The router loads it before the first request that needs a count; these tests count every prompt.
beforeAll(loadTokenizer);
const config = parseConfig(await readFile('examples/router.yaml', 'utf8'), 'examples/router.yaml', {});
const auto = new Classifier(config.virtualModels.get('auto')!);
const classify = (content: unknown, extra: Record<string, unknown> = {}) =>
  auto.classify(counted(routeRequestOf({ model: 'auto', messages: [{ role: 'user', content }], ...extra }, {}, config.routing)));

describe('auto classifier (examples/router.yaml)', () => {
  it('rules come first, in order', () => {
    const image = [{ type: 'text', text: 'write a poem about this' }, { type: 'image_url', image_url: { url: 'data:,' } }];
    expect(classify(image)).toMatchObject({ group: 'gpt-4o', by: 'rule', match: 'multimodal' });
    expect(classify('Summarise: ' + 'the cat sat on the mat. '.repeat(4000))).toMatchObject({ by: 'rule', match: 'long-context' });
    expect(classify('what does this do?', { tools: [{ type: 'function', function: { name: 'f' } }] })).toMatchObject({ by: 'rule', match: 'tools' });
    expect(classify('Why does this fail?\n```js\nfoo()\n```')).toMatchObject({ by: 'rule', match: 'code-block' });
  });

  it('a long prompt under the threshold is not counted as long context', () => {
    expect(classify('a poem please. ' + 'la '.repeat(3000))).not.toMatchObject({ match: 'long-context' });
  });

  it.each([
    ['Write a TypeScript function that debounces another function', 'gpt-4o'],
    ['Compare the trade-offs of these two database designs and recommend one', 'gpt-4o'],
    ['Write a poem about the moon over the ocean', 'gpt-4o-mini'],
    ['Who painted the Mona Lisa?', 'gpt-4o-mini'],
  ])('semantic: %s → %s', (prompt, group) => {
    const c = classify(prompt);
    expect(c).toMatchObject({ by: 'semantic', group });
    expect(c.score).toBeGreaterThanOrEqual(0.2);
  });

  it('falls back to the default group below the threshold, and says how close it came', () => {
    const c = classify('zzqx vbnm');
    expect(c).toMatchObject({ group: 'gpt-4o-mini', by: 'default', match: null });
    expect(c.score).toBeLessThan(0.2);
  });
});

describe('SemanticMatcher', () => {
  const m = new SemanticMatcher([
    { group: 'code', examples: ['write a python function', 'debug this code'] },
    { group: 'poetry', examples: ['write a poem about love'] },
  ]);

  it('scores identical text 1 and unrelated text 0', () => {
    expect(m.best('write a poem about love')).toEqual({ group: 'poetry', score: expect.closeTo(1, 6) });
    expect(m.best('qqq')?.score).toBe(0);
  });

  it('matches word forms and typos through character trigrams', () => {
    expect(m.best('writing poems about lovers')?.group).toBe('poetry');
    expect(m.best('debugging pythn functions')?.group).toBe('code');
  });

  it('reads only the head and tail of a very long prompt', () => {
    const long = 'write a poem about love ' + 'filler '.repeat(50_000) + ' about love';
    expect(m.best(long)?.group).toBe('poetry');
  });
});

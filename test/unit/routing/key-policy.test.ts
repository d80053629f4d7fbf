/**
 * What a key bounds in routing: the tags a request may send (how many, how long, which budgets), the
 * tags usage totals count, and the groups its fallbacks may reach.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyFromRecord, type VirtualKeyRecord } from '../../../src/auth/keys.js';
import { parseConfig } from '../../../src/config/load.js';
import { RouterError } from '../../../src/errors.js';
import { Router } from '../../../src/routing/choose.js';
import { routeRequestOf } from '../../../src/routing/features.js';
import { formatPlan } from '../../../src/routing/plan.js';
import { IDLE, type LoadView, type RouteRequest } from '../../../src/routing/types.js';
import { fixedEnv } from '../../support/fixtures.js';

const d = (name: string, group: string, extra = '') =>
  `  - {name: ${name}, provider: openai, model_group: ${group}, provider_model: ${name}-model, price: {input_per_million: 1, output_per_million: 2}, context_window: 128000${extra}}`;
const YAML = `
limits: {max_tags: 4, max_tag_length: 8}
known_tags: [report]
tag_budgets: [{tag: proj-a, usd: 5, window: day}]
keys:
  - {name: owner, key_sha256: ${'a'.repeat(64)}, tags: [proj-a]}
model_groups:
  - {name: main, fallbacks: [spare, other], context_window_fallbacks: [other]}
  - {name: spare}
  - {name: other}
virtual_models:
  - {name: auto, default_group: main, rules: [{group: spare, when: {keywords: [spare]}}]}
deployments:
${d('main-a', 'main', ', tags: [eu]')}
${d('spare-a', 'spare')}
${d('other-a', 'other')}
`;
const config = parseConfig(YAML, 'router.yaml', {});
const router = new Router(config);
const env = fixedEnv([0.1]);

const key = (record: Partial<VirtualKeyRecord> = {}) => keyFromRecord({ name: 'k', hash: 'h', ...record });
const request = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, caller = key(), model = 'main'): RouteRequest =>
  routeRequestOf({ model, messages: [{ role: 'user', content: 'hello' }], ...extra }, headers, config.routing, caller);

function refusal(f: () => unknown): RouterError {
  try {
    f();
  } catch (err) {
    if (err instanceof RouterError) return err;
    throw err;
  }
  throw new Error('expected a RouterError');
}

describe('request tags', () => {
  it('takes up to the limit from the body, metadata and header, deduplicated', () => {
    const req = request({ tags: ['a', 'b', 'a'], metadata: { tags: ['b', 'c'] } }, { 'x-llm-tags': ' c , d' });
    expect(req.tags).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses more tags than the limit, from any source or together, with a 400 naming the limit', () => {
    for (const [extra, headers, param] of [
      [{ tags: ['a', 'b', 'c', 'd', 'e'] }, {}, 'tags'],
      [{ metadata: { tags: ['a', 'b', 'c', 'd', 'e'] } }, {}, 'metadata.tags'],
      [{}, { 'x-llm-tags': 'a,b,c,d,e' }, 'x-llm-tags'],
      [{ tags: ['a', 'b', 'c'] }, { 'x-llm-tags': 'd,e' }, 'x-llm-tags'],
    ] as const) {
      const err = refusal(() => request(extra, headers));
      expect(err).toMatchObject({ code: 'invalid_request', status: 400, param });
      expect(err.message).toContain('at most 4');
    }
  });

  it('measures a list before reading it: a huge one is refused at once, whatever it holds', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `t${i}`);
    expect(refusal(() => request({ tags: many })).code).toBe('invalid_request');
    expect(refusal(() => request({}, { 'x-llm-tags': many.join(',') })).code).toBe('invalid_request');
  });

  it('for any tags a client sends: a 400, or at most the limit of distinct tags, each within the length limit', () => {
    const list = fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null)), { maxLength: 8 });
    fc.assert(
      fc.property(fc.option(list), fc.option(list), fc.option(fc.string({ maxLength: 60 })), (tags, metaTags, header) => {
        const extra = { ...(tags === null ? {} : { tags }), ...(metaTags === null ? {} : { metadata: { tags: metaTags } }) };
        let req: RouteRequest;
        try {
          req = routeRequestOf({ model: 'main', messages: [{ role: 'user', content: 'hi' }], ...extra }, header === null ? {} : { 'x-llm-tags': header }, config.routing);
        } catch (err) {
          expect(err).toBeInstanceOf(RouterError);
          expect((err as RouterError).status).toBe(400);
          return;
        }
        expect(req.tags.length).toBeLessThanOrEqual(4);
        expect(new Set(req.tags).size).toBe(req.tags.length);
        expect(req.tags.every((t) => t.length > 0 && t.length <= 8)).toBe(true);
      }),
    );
  });

  it('refuses a tag longer than the limit', () => {
    const err = refusal(() => request({ tags: ['123456789'] }));
    expect(err).toMatchObject({ code: 'invalid_request', param: 'tags' });
    expect(err.message).toContain('the limit is 8');
  });

  it("refuses a budgeted tag a key neither owns nor is allowed (403), and takes the owner's and the allowed key's", () => {
    expect(refusal(() => request({ tags: ['proj-a'] }))).toMatchObject({ code: 'tag_not_allowed', status: 403 });
    expect(refusal(() => request({}, { 'x-llm-tags': 'proj-a' }))).toMatchObject({ code: 'tag_not_allowed' });
    expect(request({ tags: ['proj-a'] }, {}, key({ tags: ['proj-a'] })).tags).toEqual(['proj-a']);
    expect(request({ tags: ['proj-a'] }, {}, key({ allowed_tags: ['proj-a'] })).tags).toEqual(['proj-a']);
    // Without keys no tag budget is charged, so any tag goes.
    expect(routeRequestOf({ model: 'main', messages: [{ role: 'user', content: 'hi' }], tags: ['proj-a'] }, {}, config.routing).tags).toEqual(['proj-a']);
  });

  it('counts only the tags the config knows, and the key’s own', () => {
    const req = request({ tags: ['eu', 'report', 'made-up'] }, {}, key({ tags: ['runtime'] }));
    expect(req.tags).toEqual(['eu', 'report', 'made-up', 'runtime']);
    expect(req.countedTags).toEqual(['eu', 'report', 'runtime']);
    expect(request({ tags: ['proj-a'] }, {}, key({ allowed_tags: ['proj-a'] })).countedTags).toEqual(['proj-a']);
  });
});

describe("fallbacks within the key's models", () => {
  const loads = (cooling: readonly string[]) => (g: { deployments: ReadonlyArray<{ name: string }> }): LoadView[] =>
    g.deployments.map((x) => ({ ...IDLE, coolingUntilMs: cooling.includes(x.name) ? env.now() + 60_000 : 0 }));
  const plan = (req: RouteRequest) => {
    const decision = router.choose(req, router.resolve(req)!, loads([]), env);
    if (decision.outcome !== 'routed') throw new Error('not routed');
    return formatPlan({ call: 'chat', api: 'openai', primary: decision.primary.name, hops: router.hops(req, decision, loads([]), env) });
  };

  it('plans hops only to groups the key may request', () => {
    expect(plan(request())).toBe('main-a spare-a:p other-a:pw');
    expect(plan(request({}, {}, key({ models: ['main'] })))).toBe('main-a');
    expect(plan(request({}, {}, key({ models: ['main', 'other'] })))).toBe('main-a other-a:pw');
  });

  it('takes the groups a virtual model the key may request resolves to as allowed', () => {
    expect(plan(request({}, {}, key({ models: ['auto'] }), 'auto'))).toBe('main-a spare-a:p');
  });

  it('plans every hop with the opt-in', () => {
    expect(plan(request({}, {}, key({ models: ['main'], fallbacks_beyond_models: true })))).toBe('main-a spare-a:p other-a:pw');
  });

  it('does not move to a fallback group the key may not use when its group has no deployment left', () => {
    const strict = request({}, {}, key({ models: ['main'] }));
    const decision = router.choose(strict, router.resolve(strict)!, loads(['main-a']), env);
    expect(decision).toMatchObject({ outcome: 'no_candidates', excluded: [{ deployment: 'main-a', reason: 'cooldown' }] });
    const open = request({}, {}, key({ models: ['main', 'spare'] }));
    expect(router.choose(open, router.resolve(open)!, loads(['main-a']), env)).toMatchObject({ outcome: 'routed', primary: { name: 'spare-a' } });
  });
});

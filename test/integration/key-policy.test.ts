/**
 * What a key bounds, through real Envoy: how many tags a request may send and which budgeted tags it
 * may spend, which tags usage totals count, which groups its fallbacks may reach, and whether it may
 * see the routing decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { usageDay } from '../../src/state/store.js';
import { postChat } from '../support/clients.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;

const KEYS = {
  strict: 'sk-test-strict-0001',
  crossing: 'sk-test-crossing-0002',
  owner: 'sk-test-owner-0003',
  partner: 'sk-test-partner-0004',
  other: 'sk-test-other-0005',
  debugger: 'sk-test-debugger-0006',
} as const;

beforeAll(async () => {
  stack = await startStack({
    routing: { decision_header: true },
    groups: { primary: { fallbacks: ['backup'] } },
    config: {
      auth: { mode: 'keys' },
      keys: [
        { name: 'strict', key_sha256: hashKey(KEYS.strict), models: ['primary'] },
        { name: 'crossing', key_sha256: hashKey(KEYS.crossing), models: ['primary'], fallbacks_beyond_models: true },
        { name: 'owner', key_sha256: hashKey(KEYS.owner), team: 'a', tags: ['proj-a'] },
        { name: 'partner', key_sha256: hashKey(KEYS.partner), team: 'c', allowed_tags: ['proj-a'] },
        { name: 'other', key_sha256: hashKey(KEYS.other), team: 'b' },
        { name: 'debugger', key_sha256: hashKey(KEYS.debugger), debug: true },
      ],
      tag_budgets: [{ tag: 'proj-a', usd: 100, window: 'day' }],
      known_tags: ['reported'],
    },
    deployments: [
      { name: 'chat-a', group: 'chat' },
      { name: 'prim-a', group: 'primary', behaviour: { status: 500 } },
      { name: 'backup-a', group: 'backup' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const chat = (key: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, model = 'chat') =>
  postChat(stack.url, { model, messages: [{ role: 'user', content: 'hi' }], ...extra }, { ...bearer(key), ...headers });

async function errorOf(res: Response): Promise<{ status: number; code: string; param: string | null; message: string }> {
  const { error } = (await res.json()) as { error: { code: string; param: string | null; message: string } };
  return { status: res.status, ...error };
}

/** The status, once the body is read: the router records the usage when the response ends. */
async function statusOf(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.arrayBuffer();
  return r.status;
}

async function totals(dimension: string, id: string, day: string): Promise<number> {
  const res = await stack.adminFetch(`/usage/totals?dimension=${dimension}&id=${encodeURIComponent(id)}&day=${day}`);
  return ((await res.json()) as { requests: number }).requests;
}

describe('request tags', () => {
  it('refuses more tags than the limit, or a tag longer than it, with a 400 naming it; nothing reaches a provider', async () => {
    stack.resetMocks();
    // Tens of thousands of distinct tags: de-duplicating them pairwise held the router for seconds.
    const many = Array.from({ length: 100_000 }, (_, i) => `t${i}`);
    const body = await errorOf(await chat(KEYS.other, { tags: many }));
    expect(body).toMatchObject({ status: 400, code: 'invalid_request', param: 'tags' });
    expect(body.message).toContain('at most 16');
    const header = await errorOf(await chat(KEYS.other, {}, { 'x-llm-tags': many.slice(0, 4000).join(',') }));
    expect(header).toMatchObject({ status: 400, code: 'invalid_request', param: 'x-llm-tags' });
    const metadata = await errorOf(await chat(KEYS.other, { metadata: { tags: many.slice(0, 17) } }));
    expect(metadata).toMatchObject({ status: 400, param: 'metadata.tags' });
    const long = await errorOf(await chat(KEYS.other, { tags: ['x'.repeat(65)] }));
    expect(long).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(long.message).toContain('the limit is 64');
    expect(stack.mockRequests()).toBe(0);
    expect(await statusOf(chat(KEYS.other, { tags: many.slice(0, 16) }))).toBe(200);
  });

  it("lets a key spend a budgeted tag only when it owns it or is allowed it: another team's key gets 403", async () => {
    stack.resetMocks();
    for (const res of [await chat(KEYS.other, { tags: ['proj-a'] }), await chat(KEYS.other, {}, { 'x-llm-tags': 'proj-a' })]) {
      expect(await errorOf(res)).toMatchObject({ status: 403, code: 'tag_not_allowed', param: 'tags' });
    }
    expect(stack.mockRequests()).toBe(0);
    const [before] = await stack.usageLog(1);
    const day = usageDay(before!.timestampMs);
    const spentBefore = await totals('tag', 'proj-a', day);
    expect(await statusOf(chat(KEYS.owner))).toBe(200);
    expect(await statusOf(chat(KEYS.partner, {}, { 'x-llm-tags': 'proj-a' }))).toBe(200);
    expect(await totals('tag', 'proj-a', day)).toBe(spentBefore + 2);
  });

  it('keeps usage totals only for tags the config knows (the key’s, deployments’, budgets’, known_tags)', async () => {
    expect(await statusOf(chat(KEYS.other, { tags: ['made-up-1', 'reported'], metadata: { tags: ['made-up-2'] } }))).toBe(200);
    const [record] = await stack.usageLog(1);
    expect(record!.tags).toEqual(['reported']);
    const day = usageDay(record!.timestampMs);
    expect(await totals('tag', 'reported', day)).toBe(1);
    expect(await totals('tag', 'made-up-1', day)).toBe(0);
    expect(await totals('tag', 'made-up-2', day)).toBe(0);
  });
});

describe("fallbacks within the key's models", () => {
  it('a key allowed only one group is never served by its fallback group when the group fails; with the opt-in it is', async () => {
    stack.resetMocks();
    for (let i = 0; i < 3; i++) expect(await statusOf(chat(KEYS.strict, {}, {}, 'primary'))).not.toBe(200);
    expect(stack.mocks['prim-a']![0]!.stats().requests).toBeGreaterThan(0);
    expect(stack.mocks['backup-a']![0]!.stats().requests).toBe(0);
    const crossing = await chat(KEYS.crossing, {}, {}, 'primary');
    expect(crossing.status).toBe(200);
    expect(((await crossing.json()) as { model: string }).model).toBe('backup-provider');
    expect(stack.mocks['backup-a']![0]!.stats().requests).toBe(1);
  });
});

describe('decision header', () => {
  it('is shown only to keys allowed to debug', async () => {
    const hidden = await chat(KEYS.other, {}, { 'x-llm-router-debug': '1' });
    expect(hidden.status).toBe(200);
    await hidden.arrayBuffer();
    expect(hidden.headers.get('x-llm-router-decision')).toBeNull();
    const shown = await chat(KEYS.debugger, {}, { 'x-llm-router-debug': '1' });
    expect(shown.status).toBe(200);
    await shown.arrayBuffer();
    expect(shown.headers.get('x-llm-router-decision')).toMatch(/^group=chat; strategy=weighted-random; pick=chat-a/);
  });
});

describe('runtime keys (PUT /keys)', () => {
  const putKey = async (record: Record<string, unknown>) => {
    const res = await stack.adminFetch('/keys', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(record) });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };

  it("take every field a router.yaml key has — allowed_tags, debug, fallbacks_beyond_models — and they act as router.yaml's do", async () => {
    expect((await putKey({ name: 'rt-partner', key: 'sk-test-rt-partner-0007', team: 'c', allowed_tags: ['proj-a'] })).status).toBe(200);
    expect((await putKey({ name: 'rt-debugger', key: 'sk-test-rt-debugger-0008', debug: true })).status).toBe(200);
    expect((await putKey({ name: 'rt-crossing', key: 'sk-test-rt-crossing-0009', models: ['primary'], fallbacks_beyond_models: true })).status).toBe(200);
    expect((await putKey({ name: 'rt-plain', key: 'sk-test-rt-plain-0010' })).status).toBe(200);
    expect(await statusOf(chat('sk-test-rt-partner-0007', { tags: ['proj-a'] }))).toBe(200);
    expect(await errorOf(await chat('sk-test-rt-plain-0010', { tags: ['proj-a'] }))).toMatchObject({ status: 403, code: 'tag_not_allowed' });
    const shown = await chat('sk-test-rt-debugger-0008', {}, { 'x-llm-router-debug': '1' });
    await shown.arrayBuffer();
    expect(shown.headers.get('x-llm-router-decision')).toMatch(/^group=chat; /);
    const hidden = await chat('sk-test-rt-plain-0010', {}, { 'x-llm-router-debug': '1' });
    await hidden.arrayBuffer();
    expect(hidden.headers.get('x-llm-router-decision')).toBeNull();
    const crossing = await chat('sk-test-rt-crossing-0009', {}, {}, 'primary');
    expect(crossing.status).toBe(200);
    expect(((await crossing.json()) as { model: string }).model).toBe('backup-provider');
  });

  it("are validated as router.yaml's keys are: a wrong or unknown field is a 400 naming it", async () => {
    const wrong = await putKey({ name: 'rt-bad', key: 'sk-test-rt-bad-0011', allowed_tags: 'proj-a' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toContain('allowed_tags');
    const unknown = await putKey({ name: 'rt-bad', key: 'sk-test-rt-bad-0011', debugging: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toContain('debugging');
    expect((await putKey({ name: 'rt-bad', key: 'sk-test-rt-bad-0011', key_sha256: hashKey('x') })).status).toBe(400);
  });
});

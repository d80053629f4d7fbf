/**
 * The SSE reader must give the same usage and the same client bytes however Envoy slices the
 * stream: whole, byte by byte, and split at every offset (inside events, CRLFs and UTF-8 characters).
 * Property tests over generated streams are in test/unit/fuzz/responses.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MALFORMED_STREAM_EVENT, observeResponse, TRUNCATED_STREAM_EVENT } from '../../../src/providers/openai/response.js';
import { feed } from '../../support/streams.js';

/** A chunk as OpenAI sends it: with `usage` (null but in the last) when `include_usage` is on, without it otherwise. */
const chunk = (choices: unknown[], usage?: unknown) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices, ...(usage === undefined ? {} : { usage }) })}\n\n`;

const CONTENT = ['Hé', 'llo ', '日本語', ' ✓', ' 🙂'];
const USAGE = { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } };
const CHOICES = [
  [{ index: 0, delta: { role: 'assistant', content: '' } }],
  ...CONTENT.map((c) => [{ index: 0, delta: { content: c } }]),
  [{ index: 0, delta: {}, finish_reason: 'stop' }],
];
/** With `include_usage` on. */
const EVENTS = CHOICES.map((c) => chunk(c, null));
/** What OpenAI sends a client that did not ask for usage. */
const PLAIN_EVENTS = CHOICES.map((c) => chunk(c));
const USAGE_EVENT = chunk([], USAGE);
const TRANSCRIPT = Buffer.from([...EVENTS, USAGE_EVENT, 'data: [DONE]\n\n'].join(''));
const WITHOUT_USAGE = Buffer.from([...PLAIN_EVENTS, 'data: [DONE]\n\n'].join(''));
const EXPECTED_USAGE = { promptTokens: 11, cachedPromptTokens: 4, completionTokens: 5, reasoningTokens: 2, totalTokens: 16 };

function splits(bytes: Buffer): Array<[string, Buffer[]]> {
  const cases: Array<[string, Buffer[]]> = [['whole', [bytes]]];
  cases.push(['byte by byte', [...bytes].map((b) => Buffer.from([b]))]);
  for (let at = 1; at < bytes.length; at++) cases.push([`split at ${at}`, [bytes.subarray(0, at), bytes.subarray(at)]]);
  cases.push(['with empty chunks', [Buffer.alloc(0), bytes.subarray(0, 100), Buffer.alloc(0), bytes.subarray(100), Buffer.alloc(0)]]);
  return cases;
}

describe('SSE usage, client asked for usage (nothing hidden)', () => {
  it.each(splits(TRANSCRIPT))('%s', (_name, parts) => {
    const observer = observeResponse('text/event-stream', false)!;
    expect(feed(observer, parts).equals(TRANSCRIPT)).toBe(true);
    const report = observer.report();
    expect(report.usage).toEqual(EXPECTED_USAGE);
    expect(report.responseModel).toBe('gpt-4o-2024-08-06');
  });

  it('passes chunks unchanged without allocating replacements', () => {
    const observer = observeResponse('text/event-stream', false)!;
    for (const e of EVENTS) expect(observer.push(Buffer.from(e), false)).toBeNull();
  });
});

describe('SSE usage, router asked for usage (usage event hidden from the client)', () => {
  it.each(splits(TRANSCRIPT))('%s', (_name, parts) => {
    const observer = observeResponse('text/event-stream', true)!;
    expect(feed(observer, parts).toString('utf8')).toBe(WITHOUT_USAGE.toString('utf8'));
    expect(observer.report().usage).toEqual(EXPECTED_USAGE);
  });

  it('removes the usage member from each chunk and drops the usage event; passes other chunks unchanged', () => {
    const observer = observeResponse('text/event-stream', true)!;
    EVENTS.forEach((e, i) => expect(observer.push(Buffer.from(e), false)!.toString('utf8')).toBe(PLAIN_EVENTS[i]));
    expect(observer.push(Buffer.from(USAGE_EVENT), false)!.length).toBe(0);
    expect(observer.push(Buffer.from('data: [DONE]\n\n'), true)).toBeNull();
    const plain = observeResponse('text/event-stream', true)!;
    for (const e of PLAIN_EVENTS) expect(plain.push(Buffer.from(e), false)).toBeNull();
  });

  it.each([
    ['spaces around the colon and brace', 'data: {"id":"c1","choices":[] , "usage" : null }\n\n', 'data: {"id":"c1","choices":[]  }\n\n'],
    ['the only member', 'data: {"usage":null}\n\n', 'data: {}\n\n'],
    [
      "before OpenAI's obfuscation padding",
      'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a\\"}{b"}\n\n',
      'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"obfuscation":"a\\"}{b"}\n\n',
    ],
    ['the first member of several', 'data: {"usage" : null , "id":"c1"}\n\n', 'data: { "id":"c1"}\n\n'],
    ['CRLF line endings', 'data: {"id":"c1","usage":null}\r\n\r\n', 'data: {"id":"c1"}\r\n\r\n'],
    ['other fields before the data line', 'event: message\nid: 7\ndata: {"id":"c1","usage":null}\n\n', 'event: message\nid: 7\ndata: {"id":"c1"}\n\n'],
  ])('removes a top-level "usage":null: %s', (_name, event, expected) => {
    const done = event.endsWith('\r\n') ? 'data: [DONE]\r\n\r\n' : 'data: [DONE]\n\n';
    for (const [, parts] of splits(Buffer.from(event + done))) {
      expect(feed(observeResponse('text/event-stream', true)!, parts).toString('utf8')).toBe(expected + done);
    }
  });

  it.each([
    ['in a nested object', 'data: {"id":"c1","x":{"usage":null}}\n\n'],
    ['in a nested object before other members', 'data: {"id":"c1","x":{"usage":null,"y":[1,{}]}}\n\n'],
    ['in an array', 'data: {"id":"c1","x":[{"usage":null}]}\n\n'],
    ['inside a string', `data: ${JSON.stringify({ id: 'c1', choices: [{ delta: { content: 'say ,"usage":null}' } }] })}\n\n`],
    ['in a string at the end', `data: ${JSON.stringify({ id: 'c1', note: '{"usage":null}' })}\n\n`],
    ['a comment', ': {"a":1,"usage":null}\n\n'],
    ['usage that is not null', 'data: {"id":"c1","usage":0}\n\n'],
  ])('leaves anything else unchanged: %s', (_name, event) => {
    const observer = observeResponse('text/event-stream', true)!;
    expect(observer.push(Buffer.from(event), false)).toBeNull();
  });
});

describe('SSE framing', () => {
  it('accepts CRLF line endings, split anywhere', () => {
    const crlf = Buffer.from(TRANSCRIPT.toString('utf8').replaceAll('\n', '\r\n'));
    for (const [, parts] of splits(crlf)) {
      const observer = observeResponse('text/event-stream', false)!;
      expect(feed(observer, parts).equals(crlf)).toBe(true);
      expect(observer.report().usage).toEqual(EXPECTED_USAGE);
    }
  });

  it('reads a final usage event that lacks its blank line', () => {
    const observer = observeResponse('text/event-stream', false)!;
    observer.push(Buffer.from(EVENTS.join('')), false);
    observer.push(Buffer.from(USAGE_EVENT.trimEnd()), true);
    expect(observer.report().usage).toEqual(EXPECTED_USAGE);
  });

  it('a stream that ends between events without its end gets an error event; what was delivered is counted', () => {
    const observer = observeResponse('text/event-stream', true)!;
    const bad = 'data: {"usage": {not json}\n\n';
    const cut = Buffer.from(`${EVENTS[0]}${bad}${EVENTS[1]}${EVENTS[2]}`);
    expect(feed(observer, [cut]).toString('utf8')).toBe(`${PLAIN_EVENTS[0]}${bad}${PLAIN_EVENTS[1]}${PLAIN_EVENTS[2]}${TRUNCATED_STREAM_EVENT.toString('utf8')}`);
    expect(JSON.parse(TRUNCATED_STREAM_EVENT.toString().slice(6))).toMatchObject({ error: { type: 'server_error', code: 'upstream_stream_truncated' } });
    expect(observer.report()).toEqual({ usage: null, responseModel: null, contentEvents: 2, complete: false });
  });

  it('`[DONE]` ends the stream with or without the space after `data:` (the SSE field\'s space is optional); inside an answer it does not', () => {
    for (const done of ['data: [DONE]\n\n', 'data:[DONE]\n\n', 'data:   [DONE]  \n\n']) {
      const observer = observeResponse('text/event-stream', false)!;
      const source = Buffer.from(`${EVENTS[1]}${done}`);
      expect(feed(observer, [source]).equals(source)).toBe(true);
      expect(observer.report().complete).toBe(true);
    }
    const quoting = observeResponse('text/event-stream', false)!;
    const source = Buffer.from(`data: {"choices":[{"delta":{"content":"\\ndata: [DONE]"}}]}\n\n`);
    expect(feed(quoting, [source]).toString('utf8')).toBe(`${source.toString('utf8')}${TRUNCATED_STREAM_EVENT.toString('utf8')}`);
    expect(quoting.report().complete).toBe(false);
  });

  it('a stream that ends inside an event: the error event after it starts an event of its own', () => {
    const observer = observeResponse('text/event-stream', false)!;
    const cut = Buffer.from(`${EVENTS[1]}data: {"id":"c1","cho`);
    expect(feed(observer, [cut, Buffer.alloc(0)]).toString('utf8')).toBe(`${cut.toString('utf8')}\n\n${MALFORMED_STREAM_EVENT.toString('utf8')}`);
  });

  it('a malformed event (cut inside, HTML, garbage) is followed by an error event, and nothing after it reaches the client', () => {
    for (const [bad, separator] of [
      ['data: {"choices": [', '\n\n'],
      ['data: <html>502 Bad Gateway</html>\n\n', ''],
    ] as const) {
      const observer = observeResponse('text/event-stream', false)!;
      const first = Buffer.from(`${EVENTS[1]}${bad}`);
      expect(observer.push(first, bad.endsWith('['))!.toString('utf8')).toBe(`${first.toString('utf8')}${separator}${MALFORMED_STREAM_EVENT.toString('utf8')}`);
      expect(observer.push(Buffer.from(EVENTS[2]!), false)!.length).toBe(0);
      expect(observer.push(Buffer.from('data: [DONE]\n\n'), true)!.length).toBe(0);
      expect(observer.report()).toMatchObject({ contentEvents: 1, complete: false });
    }
    expect(JSON.parse(MALFORMED_STREAM_EVENT.toString().slice(6))).toMatchObject({ error: { code: 'upstream_stream_malformed' } });
  });

  describe.each([
    ['client asked for usage', false, EVENTS],
    ['router asked for usage', true, PLAIN_EVENTS],
  ] as const)('events after a malformed one in the same chunk (%s)', (_name, hide, delivered) => {
    const MALFORMED = 'data: <html>502 Bad Gateway</html>\n\n';
    const source = Buffer.from([EVENTS[0], EVENTS[1], MALFORMED, ...EVENTS.slice(2), USAGE_EVENT, 'data: [DONE]\n\n'].join(''));
    const expected = `${delivered[0]}${delivered[1]}${MALFORMED}${MALFORMED_STREAM_EVENT.toString('utf8')}`;
    it.each(splits(source))('%s: only the error event follows it', (_split, parts) => {
      const observer = observeResponse('text/event-stream', hide)!;
      expect(feed(observer, parts).toString('utf8')).toBe(expected);
      expect(observer.report()).toEqual({ usage: null, responseModel: null, contentEvents: 1, complete: false });
    });
  });

  it('a malformed event after the usage report: the usage is read, the answer is not complete', () => {
    const observer = observeResponse('text/event-stream', false)!;
    feed(observer, [Buffer.from([...EVENTS, USAGE_EVENT, 'data: <html>\n\n', 'data: [DONE]\n\n'].join(''))]);
    expect(observer.report()).toMatchObject({ usage: EXPECTED_USAGE, complete: false });
  });

  it('complete: only once the stream ended after its end', () => {
    const observer = observeResponse('text/event-stream', false)!;
    observer.push(TRANSCRIPT, false);
    expect(observer.report().complete).toBe(false);
    observer.push(Buffer.alloc(0), true);
    expect(observer.report().complete).toBe(true);
  });

  it('keep-alive comments and empty data lines are not malformed', () => {
    const observer = observeResponse('text/event-stream', false)!;
    expect(observer.push(Buffer.from(`: keep-alive\n\ndata:\n\n${EVENTS[1]}`), false)).toBeNull();
  });

  it('a stream that ends after its finish_reason, without [DONE], is whole: no error event', () => {
    const observer = observeResponse('text/event-stream', false)!;
    const whole = Buffer.from(EVENTS.join(''));
    expect(observer.push(whole, true)).toBeNull();
    expect(observer.report()).toMatchObject({ contentEvents: CONTENT.length, complete: true });
  });
});

describe('JSON usage', () => {
  const body = Buffer.from(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18', choices: [], usage: USAGE }));

  it.each(splits(body).filter((_, i) => i % 7 === 0))('%s', (_name, parts) => {
    const observer = observeResponse('application/json; charset=utf-8', false)!;
    expect(feed(observer, parts).equals(body)).toBe(true);
    expect(observer.report()).toEqual({ usage: EXPECTED_USAGE, responseModel: 'gpt-4o-mini-2024-07-18', contentEvents: 0, complete: true });
  });

  it('reports no usage for a body that is not JSON', () => {
    const observer = observeResponse('application/json', false)!;
    observer.push(Buffer.from('<html>bad gateway</html>'), true);
    expect(observer.report()).toMatchObject({ usage: null, complete: false });
  });

  it('ignores content types it cannot read', () => {
    expect(observeResponse('text/html', false)).toBeNull();
  });
});

/**
 * A legacy text-completions stream read for billing: the usage chunk the router asked for hidden
 * from a client that did not, and a stream cut before its usage billed for the text events the
 * client got (their answer is in `text`, not chat's `content`).
 */
import { describe, expect, it } from 'vitest';
import { observeResponse } from '../../../src/providers/openai/response.js';

const chunk = (choices: unknown[], usage?: unknown) =>
  `data: ${JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'instruct', choices, ...(usage === undefined ? {} : { usage }) })}\n\n`;
const text = (t: string, finish: string | null = null) => chunk([{ text: t, index: 0, logprobs: null, finish_reason: finish }], null);
const USAGE = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };

function read(events: string[], hideUsageEvent: boolean, end = true): { out: string; report: ReturnType<NonNullable<ReturnType<typeof observeResponse>>['report']> } {
  const observer = observeResponse('text/event-stream', hideUsageEvent)!;
  let out = '';
  events.forEach((e, i) => {
    const last = end && i === events.length - 1;
    out += (observer.push(Buffer.from(e), last) ?? Buffer.from(e)).toString();
  });
  return { out, report: observer.report() };
}

describe('a text-completions stream', () => {
  const whole = [text('Hel'), text('lo'), text('', 'stop'), chunk([], USAGE), 'data: [DONE]\n\n'];

  it('is billed from its usage chunk, which a client that did not ask for it never sees (nor the null usage members)', () => {
    const { out, report } = read(whole, true);
    expect(report).toMatchObject({ usage: { promptTokens: 5, completionTokens: 2, totalTokens: 7 }, complete: true });
    expect(out).not.toContain('"usage"');
    expect(out).toContain('"text":"Hel"');
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('passes the usage chunk to a client that asked for it', () => {
    const { out } = read(whole, false);
    expect(out).toContain('"prompt_tokens":5');
  });

  it('cut before its usage: the text events delivered are counted, for billing what the client got', () => {
    const { report } = read([text('Hel'), text('lo'), text('!')], true);
    expect(report).toMatchObject({ usage: null, contentEvents: 3, complete: false });
  });
});

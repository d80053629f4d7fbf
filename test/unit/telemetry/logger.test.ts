import { describe, expect, it } from 'vitest';
import { createLogger, infoLine } from '../../../src/telemetry/logger.js';

describe('createLogger', () => {
  it('writes JSON lines with the level as a word, an ISO 8601 time, and credentials redacted', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'llm-router', { write: (line: string) => void lines.push(line) });
    log.warn({ requestId: 'r-1', headers: { authorization: 'Bearer sk-secret' } }, 'something to know');
    log.debug('below the level');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'warn', name: 'llm-router', requestId: 'r-1', headers: { authorization: '[Redacted]' }, msg: 'something to know' });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });
});

describe('infoLine', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, log: createLogger('info', 'llm-router', { write: (line: string) => void lines.push(line) }) };
  };

  it("writes the line pino writes for the same fields: same keys in the same order, nested values, undefined fields left out", () => {
    const fields = { method: 'POST', routing: { pick: 'a', attempts: [{ attempt: 1, status: 200 }] }, team: null, error: undefined, quote: 'say "hi"\n', costNanos: 356000 };
    const ours = capture();
    const pinos = capture();
    infoLine(ours.log.child({ replica: 2 }), fields, 'request');
    pinos.log.child({ replica: 2 }).info(fields, 'request');
    const [a, b] = [JSON.parse(ours.lines[0]!) as Record<string, unknown>, JSON.parse(pinos.lines[0]!) as Record<string, unknown>];
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect({ ...a, time: null }).toEqual({ ...b, time: null });
    expect(new Date(a.time as string).toISOString()).toBe(a.time);
    expect(ours.lines[0]!.endsWith('}\n')).toBe(true);
  });

  it('writes several objects as one line, in order: the same line as their merge', () => {
    const [parts, merged] = [capture(), capture()];
    const head = { method: 'POST', routing: { pick: 'a' } };
    const record = { requestId: 'r-1', team: null, ttftMs: undefined, costNanos: 356000 };
    infoLine(parts.log, [head, {}, record, { trace_id: 't' }], 'request');
    infoLine(merged.log, { ...head, ...record, trace_id: 't' }, 'request');
    expect({ ...JSON.parse(parts.lines[0]!), time: null }).toEqual({ ...JSON.parse(merged.lines[0]!), time: null });
    expect(Object.keys(JSON.parse(parts.lines[0]!))).toEqual(Object.keys(JSON.parse(merged.lines[0]!)));
  });

  it('writes a line without fields, and nothing below the level', () => {
    const { lines, log } = capture();
    infoLine(log, {}, 'empty');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', name: 'llm-router', msg: 'empty' });
    log.level = 'warn';
    infoLine(log, { a: 1 }, 'quiet');
    expect(lines).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/telemetry/logger.js';

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

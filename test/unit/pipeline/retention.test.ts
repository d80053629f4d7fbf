/**
 * What an open request keeps in memory once it is routed: its usage record's few fields, none of its
 * body, however long the prompt. A thousand streams of 100 KB prompts held 100 MB of prompt text.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { expect, it } from 'vitest';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { NO_ATTRIBUTES } from '../../../src/pipeline/types.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { config, fixedEnv } from '../../support/fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const HEADERS = { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': 'req-1', authorization: 'Bearer sk-client' };
const STREAMS = 100;
const PROMPT_CHARS = 100_000;

function liveHeapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it('an open stream holds none of its prompt once routed', async () => {
  const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  const p = new Pipeline(config(), store, fixedEnv([0.1]), pino({ level: 'silent' }));
  const open = [];
  const before = liveHeapBytes();
  for (let i = 0; i < STREAMS; i++) {
    const x = p.exchange();
    x.onRequestHeaders(HEADERS, false);
    const content = `${i} ${'lorem ipsum '.repeat(PROMPT_CHARS / 12)}`;
    await x.onRequestBody(Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] })));
    x.onResponseBody(Buffer.from('data: {"choices":[{"delta":{"content":"x"}}]}\n\n'), false, { ...NO_ATTRIBUTES, status: 200 });
    open.push(x);
  }
  const perStream = (liveHeapBytes() - before) / STREAMS;
  expect(open.every((x) => !x.done)).toBe(true);
  // A few KB of bookkeeping; its prompt alone would be 100 KB.
  expect(perStream).toBeLessThan(PROMPT_CHARS / 10);
  for (const x of open) x.onEnd();
});

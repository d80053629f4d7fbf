/**
 * Streams Envoy resets with INTERNAL_ERROR after the router answered: the stream still ends with
 * Node's error, only without a stack trace to build; other errors keep theirs.
 */
import { connect, constants, createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tracelessStreamResets } from '../../../src/extproc/stream-resets.js';

let server: Http2Server;
let url: string;
const ended: Array<{ rstCode: number; error: Error | null }> = [];

beforeAll(async () => {
  server = createServer();
  tracelessStreamResets([server], pino({ level: 'silent' }));
  server.on('stream', (stream: ServerHttp2Stream) => {
    let error: Error | null = null;
    stream.on('error', (err: Error) => (error = err));
    stream.on('close', () => ended.push({ rstCode: stream.rstCode, error }));
    stream.respond({ ':status': 200 });
    stream.write('answered');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Opens a stream, waits for the answer, then resets it with `code` as Envoy does. */
async function resetAfterAnswer(code: number): Promise<{ rstCode: number; error: Error | null }> {
  const client = connect(url);
  const req = client.request({ ':path': '/' });
  req.on('error', () => {}); // the client's side of its own reset
  await new Promise<void>((resolve) => req.once('data', () => resolve()));
  const before = ended.length;
  req.close(code);
  while (ended.length === before) await new Promise((resolve) => setImmediate(resolve));
  client.close();
  return ended[ended.length - 1]!;
}

it('a stream reset with INTERNAL_ERROR still ends with ERR_HTTP2_STREAM_ERROR, without a stack trace', async () => {
  for (let i = 0; i < 2; i++) {
    // The first stream patches the prototype; the second is the first to run patched.
    const { rstCode, error } = await resetAfterAnswer(constants.NGHTTP2_INTERNAL_ERROR);
    expect(rstCode).toBe(constants.NGHTTP2_INTERNAL_ERROR);
    expect((error as NodeJS.ErrnoException | null)?.code).toBe('ERR_HTTP2_STREAM_ERROR');
    if (i === 1) expect(error!.stack).not.toContain('\n    at ');
  }
  expect(Error.stackTraceLimit).toBe(10);
});

it('other reset codes keep their stack trace', async () => {
  const { error } = await resetAfterAnswer(constants.NGHTTP2_PROTOCOL_ERROR);
  expect((error as NodeJS.ErrnoException | null)?.code).toBe('ERR_HTTP2_STREAM_ERROR');
  expect(error!.stack).toContain('\n    at ');
});

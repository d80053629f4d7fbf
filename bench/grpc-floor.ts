/**
 * The floor under any ext_proc server on this runtime: a bare @grpc/grpc-js server (the router's
 * gRPC stack, with its server options) that answers each of Envoy's messages with an empty CONTINUE
 * of the same phase and closes the stream after the response body, doing nothing else. Driven like
 * the router (bench/extproc-rate.ts), its CPU per request is what Node, HTTP/2 and grpc-js cost by
 * themselves; the router's minus it is the router's own work.
 *
 * `node bench/.build/bench/grpc-floor.js PORT` serves on 127.0.0.1:PORT.
 */
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { freePort } from '../src/devstack/ports.js';
import { spawnChild, waitUntil, type Child } from '../src/devstack/processes.js';
import { runAsEntryPoint } from './entry.js';

const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
/** ProcessingRequest's `response_body` field: the last message of a chat. */
const RESPONSE_BODY = 5;
/**
 * ProcessingResponse for a ProcessingRequest case: its field number is the request's minus one
 * (request_headers 2 → 1, request_body 4 → 3, response_body 5 → 4), an empty message = CONTINUE.
 */
const CONTINUE = Array.from({ length: 8 }, (_, field) => Buffer.from([((field - 1) << 3) | 2, 0]));

function serve(port: number): void {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const identity = (b: Buffer) => b;
  server.addService(
    { Process: { path: PROCESS, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    {
      Process: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (m: Buffer) => {
          // The case is the message's first field (the harness encodes it first, as Envoy does).
          const field = m[0]! >>> 3;
          call.write(CONTINUE[field]!);
          if (field === RESPONSE_BODY) call.end();
        });
        call.on('end', () => call.end());
      },
    },
  );
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    process.stdout.write(`serving on ${port}\n`);
  });
}

/** The floor server as a child process of its own, like a router, logging into `dir`. */
export async function startGrpcFloor(dir: string): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = spawnChild('grpc-floor', process.execPath, [new URL(import.meta.url).pathname, String(port)], { logFile: join(dir, 'grpc-floor.log') });
  await waitUntil(async () => child.output().includes('serving on'), 10_000, () => child.output(), child);
  return { child, port };
}

runAsEntryPoint('grpc-floor.js', async () => serve(Number(process.argv[2])));

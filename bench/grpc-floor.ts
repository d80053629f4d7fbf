/**
 * The floor under any ext_proc server on this runtime: the router's gRPC server as it runs it
 * (src/extproc/server.ts `serveGrpc`: grpc-js with the router's options and HTTP/2 settings)
 * answering each of Envoy's messages with a constant reply on grpc-js's call as the router's session
 * does, closing the stream after the answer's last chunk as the router does, and doing nothing else — no decoding, no policy, no accounting, no
 * log. Its
 * request-body reply names the deployment the way the router's does (x-llm-cluster, x-llm-stream
 * for a stream, clear_route_cache), picked by which of the bench's models the body's bytes contain,
 * so the shipped envoy.yaml routes it like the router's: it runs behind Envoy in the end-to-end
 * bench (`--variants floor`) and alone in `--extproc-rate`, on the router's runtime (Bun unless
 * LLM_ROUTER_RUNTIME=node). Its CPU per request is what the runtime, HTTP/2 and grpc-js cost by
 * themselves; the router's minus it is the router's own work.
 *
 * `bun bench/.build/bench/grpc-floor.js PORT` serves on 127.0.0.1:PORT.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { freePort } from '../src/devstack/ports.js';
import { spawnChild, waitUntil, type Child } from '../src/devstack/processes.js';
import { routerCommand } from '../src/devstack/runtime.js';
import { serveGrpc } from '../src/extproc/server.js';
import { STREAM_HEADER } from '../src/pipeline/upstream.js';
import { createLogger } from '../src/telemetry/logger.js';
import { ProcessingResponseSchema } from '../test/gen/envoy/service/ext_proc/v3/external_processor_pb.js';
import { runAsEntryPoint } from './entry.js';
import { MODELS } from './scenarios.js';

const PROCESS = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
const OK = { code: 0, details: 'OK' };
/** ProcessingRequest's `request_body` and `response_body` fields. */
const REQUEST_BODY = 4;
const RESPONSE_BODY = 5;
/**
 * An empty ProcessingResponse case (CONTINUE) for each ProcessingRequest case: its field number is
 * the request's minus one (request_headers 2 → 1, response_body 5 → 4).
 */
const CONTINUE = Array.from({ length: 8 }, (_, field) => Buffer.from([((field - 1) << 3) | 2, 0]));

/** router.yaml's `cluster_header` default, the header envoy.yaml's routes read. */
const CLUSTER_HEADER = 'x-llm-cluster';

/** The request-body reply routing to `model`'s cluster, as the router's names a deployment. */
function routeTo(model: string, stream: boolean): Buffer {
  const header = (key: string, value: string) => ({ header: { key, rawValue: Buffer.from(value) } });
  const setHeaders = [header(CLUSTER_HEADER, model), ...(stream ? [header(STREAM_HEADER, '1')] : [])];
  return Buffer.from(toBinary(ProcessingResponseSchema, create(ProcessingResponseSchema, { response: { case: 'requestBody', value: { response: { headerMutation: { setHeaders }, clearRouteCache: true } } } })));
}

/** Longest name first: no model's name is found inside another's. */
const ROUTES = Object.keys(MODELS)
  .sort((a, b) => b.length - a.length)
  .map((model) => ({ name: Buffer.from(`"${model}"`), reply: routeTo(model, 'chunks' in MODELS[model as keyof typeof MODELS]) }));

/**
 * Whether a response_body message (`m`, its first field) ends the answer: HttpBody's end_of_stream
 * (field 2) after its body (field 1). A 1-byte tag, then varints: what any reader of it must parse.
 */
function endsAnswer(m: Buffer): boolean {
  let at = 1;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = m[at++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  const end = varint() + at;
  if (m[at] === 0x0a) {
    at++;
    const bodyBytes = varint(); // read before adding: `at += varint()` would add to the old `at`
    at += bodyBytes;
  }
  return at < end && m[at] === 0x10 && m[at + 1] === 1;
}

/** Serves the floor on 127.0.0.1:`port` in this process. */
export async function serveFloor(port: number): Promise<grpc.Server> {
  const log = createLogger('warn', 'grpc-floor');
  const listen = (call: grpc.ServerInterceptingCallInterface) => ({
    onReceiveMetadata: () => call.startRead(),
    onReceiveMessage: (message: unknown) => {
      const m = message as Buffer;
      // The case is the message's first field (Envoy and the harness encode it first).
      const field = m[0]! >>> 3;
      call.sendMessage(field === REQUEST_BODY ? (ROUTES.find((r) => m.includes(r.name))?.reply ?? CONTINUE[field]!) : CONTINUE[field]!, () => {});
      if (field === RESPONSE_BODY && endsAnswer(m)) call.sendStatus(OK);
      else call.startRead();
    },
    onReceiveHalfClose: () => call.sendStatus(OK),
    onCancel: () => {},
  });
  const { server } = await serveGrpc({ address: '127.0.0.1', port }, 16 << 20, { path: PROCESS, deserialize: (b) => b, listen }, () => {}, log);
  return server;
}

/** The floor server as a child process of its own, like a router, logging into `dir`. */
/** The floor on the router's runtime and its settings (LLM_ROUTER_RUNTIME in `env`), so router − floor is the router's own work. */
export async function startGrpcFloor(dir: string, name = 'grpc-floor', env: NodeJS.ProcessEnv = process.env): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const run = routerCommand(new URL(import.meta.url).pathname, [String(port)], { env });
  const child = spawnChild(name, run.command, run.args, { logFile: join(dir, `${name}.log`), env: run.env });
  await waitUntil(async () => child.output().includes('serving on'), 10_000, () => child.output(), child);
  return { child, port };
}

runAsEntryPoint('grpc-floor.js', async () => {
  const port = Number(process.argv[2]);
  await serveFloor(port);
  process.stdout.write(`serving on ${port}\n`);
});

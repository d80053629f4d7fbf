/**
 * npm run bench -- --sigv4 [--rounds N] [--out DIR]
 *
 * Who should sign Bedrock's requests (SigV4): the router, in each attempt's filter, or Envoy's
 * `envoy.filters.http.aws_request_signing` as an upstream filter. Two measurements, each in one run:
 *
 * - The router's cost: the Bedrock adapter's signer (`signerFor`, what every attempt at a Bedrock
 *   deployment calls) over a 1 KB and a 100 KB Converse body, CPU µs per signature (this process's
 *   user + system time over a batch), and of that the body's SHA-256 alone. Median of the rounds.
 * - Envoy's cost: one Envoy (1 worker) with two listeners in front of the Bedrock mock, the same
 *   route to `/model/{id}/converse` on both; one listener's cluster signs with the filter
 *   (`use_unsigned_payload: false`, credentials from Envoy's environment), the other's does not.
 *   The signed cluster's mock is strict (it recomputes every signature, as AWS does); the other's
 *   is not. Batches alternate between the two, so the machine's drift falls on both; Envoy's CPU
 *   per request comes from /proc/<pid>/stat around each batch, and the mock's statuses say whether
 *   it accepted Envoy's signatures (and AWS's message when it did not).
 *
 * Times are this machine's under whatever else runs on it: compare the rows of one run.
 * Results: DIR/results.json and DIR/results.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { PROJECT_ROOT, resolveEnvoy } from '../src/devstack/binaries.js';
import { freePort } from '../src/devstack/ports.js';
import { httpOk, spawnChild, waitUntil } from '../src/devstack/processes.js';
import { startMockInstance, type MockInstance } from '../src/mock/server.js';
import { bedrock } from '../src/providers/bedrock/adapter.js';
import { sha256Hex } from '../src/providers/bedrock/sigv4.js';
import { runAsEntryPoint, writeResults } from './entry.js';
import { closedLoop, type Endpoint, type Workload } from './load.js';
import { median } from './stats.js';
import { cpuSeconds } from './targets.js';

/** The Bedrock mock's own key pair and region (src/mock/behaviour.ts). */
const AWS = { region: 'us-east-1', accessKeyId: 'AKIAMOCKBEDROCK', secretAccessKey: 'mock-bedrock-secret' };
const MODEL_PATH = `/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`;
const SIZES = [
  { name: '1 KB', bytes: 1024, signatures: 4000, requests: 3000 },
  { name: '100 KB', bytes: 100 * 1024, signatures: 400, requests: 1500 },
] as const;
const CONCURRENCY = 8;
/** A bound on one batch on a machine too slow to finish it; the requests served are reported. */
const BATCH_MAX_MS = 60_000;

/** A Converse request of about `bytes` bytes: one user message padded with words. */
export function converseBody(bytes: number): Buffer {
  const frame = { messages: [{ role: 'user', content: [{ text: '' }] }], inferenceConfig: { maxTokens: 16 } };
  const overhead = Buffer.byteLength(JSON.stringify(frame));
  const words = 'the quick brown fox jumps over the lazy dog ';
  frame.messages[0]!.content[0]!.text = words.repeat(Math.ceil((bytes - overhead) / words.length)).slice(0, Math.max(0, bytes - overhead));
  return Buffer.from(JSON.stringify(frame));
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs per call of `work`, `n` calls in a batch. */
function perCall(n: number, work: () => unknown): number {
  const start = cpuUs();
  for (let i = 0; i < n; i++) work();
  return (cpuUs() - start) / n;
}

interface RouterRow {
  readonly size: string;
  readonly bodyBytes: number;
  readonly signUs: number;
  readonly sha256Us: number;
}

function measureRouter(rounds: number): RouterRow[] {
  const sign = bedrock.signerFor!({ region: AWS.region, host: `bedrock-runtime.${AWS.region}.amazonaws.com`, accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey, sessionToken: null });
  return SIZES.map((size) => {
    const body = converseBody(size.bytes);
    let nowMs = Date.UTC(2026, 0, 1);
    perCall(size.signatures, () => sign(MODEL_PATH, body, nowMs++)); // warm up
    const signUs: number[] = [];
    const hashUs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      signUs.push(perCall(size.signatures, () => sign(MODEL_PATH, body, nowMs++)));
      hashUs.push(perCall(size.signatures, () => sha256Hex(body)));
    }
    return { size: size.name, bodyBytes: body.length, signUs: median(signUs), sha256Us: median(hashUs) };
  });
}

/** The Envoy config: per listener, a route to the Bedrock path on its own cluster; `signed` adds the filter. */
function envoyConfig(admin: number, listeners: ReadonlyArray<{ name: string; port: number; mockPort: number; signed: boolean }>): string {
  const codec = { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } };
  const signing = {
    name: 'envoy.filters.http.aws_request_signing',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.aws_request_signing.v3.AwsRequestSigning',
      service_name: 'bedrock',
      region: AWS.region,
      use_unsigned_payload: false,
      credential_provider: { environment_credential_provider: {} },
    },
  };
  return stringify({
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: admin } } },
    static_resources: {
      listeners: listeners.map((l) => ({
        name: l.name,
        address: { socket_address: { address: '127.0.0.1', port_value: l.port } },
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: l.name,
                  route_config: {
                    virtual_hosts: [{ name: l.name, domains: ['*'], routes: [{ match: { prefix: '/v1/chat/completions' }, route: { cluster: l.name, prefix_rewrite: MODEL_PATH, timeout: '30s' } }] }],
                  },
                  http_filters: [
                    {
                      name: 'envoy.filters.http.router',
                      typed_config: {
                        '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        suppress_envoy_headers: true,
                        ...(l.signed ? { upstream_http_filters: [signing, codec] } : {}),
                      },
                    },
                  ],
                },
              },
            ],
          },
        ],
      })),
      clusters: listeners.map((l) => ({
        name: l.name,
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: l.name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: l.mockPort } } } }] }] },
      })),
    },
  });
}

interface EnvoyRow {
  readonly size: string;
  readonly mode: 'signed by Envoy' | 'unsigned';
  readonly requests: number;
  readonly errors: number;
  readonly envoyCpuUsPerRequest: number;
}

interface Tally {
  requests: number;
  errors: number;
  cpuSeconds: number;
}

/** What the strict mock made of one request Envoy signed: its answer, and what the signature covered. */
interface Probe {
  readonly status: number;
  /** The mock's (AWS's) error body when it refused the signature. */
  readonly refusal: string | null;
  readonly signedHeaders: string | null;
  readonly payloadHash: string | null;
}

async function probe(port: number, body: Buffer, mock: MockInstance): Promise<Probe> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  const seen = mock.stats().last.at(-1)?.headers ?? {};
  return {
    status: res.status,
    refusal: res.status === 200 ? null : text,
    signedHeaders: /SignedHeaders=([^,]+)/.exec(seen.authorization ?? '')?.[1] ?? null,
    payloadHash: seen['x-amz-content-sha256'] ?? null,
  };
}

async function measureEnvoy(dir: string, rounds: number): Promise<{ rows: EnvoyRow[]; probes: Record<string, Probe>; strictStatuses: Record<string, number> }> {
  const mocks: MockInstance[] = [];
  const envoyPorts = { admin: await freePort(), signed: await freePort(), unsigned: await freePort() };
  try {
    const strict = await startMockInstance({ name: 'bedrock-strict', port: 0, format: 'bedrock', strict: true });
    const lenient = await startMockInstance({ name: 'bedrock-lenient', port: 0, format: 'bedrock', strict: false });
    mocks.push(strict, lenient);
    const file = join(dir, 'envoy-sigv4.yaml');
    await writeFile(
      file,
      envoyConfig(envoyPorts.admin, [
        { name: 'signed', port: envoyPorts.signed, mockPort: strict.port, signed: true },
        { name: 'unsigned', port: envoyPorts.unsigned, mockPort: lenient.port, signed: false },
      ]),
    );
    // Long-term keys only: a session token from this process's environment would be signed in too.
    const { AWS_SESSION_TOKEN: _token, ...inherited } = process.env;
    const env = { ...inherited, AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey };
    const envoy = spawnChild('envoy-sigv4', resolveEnvoy(), ['-c', file, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'], { logFile: join(dir, 'envoy-sigv4.log'), env });
    try {
      await waitUntil(() => httpOk(`http://127.0.0.1:${envoyPorts.admin}/ready`), 30_000, () => envoy.output(), envoy);
      const pid = envoy.process.pid!;
      const rows: EnvoyRow[] = [];
      const probes: Record<string, Probe> = {};
      for (const size of SIZES) {
        const workload: Workload = { name: size.name, body: converseBody(size.bytes), stream: false, headers: {} };
        probes[size.name] = await probe(envoyPorts.signed, workload.body, strict);
        const tallies: Record<'signed' | 'unsigned', Tally> = { signed: { requests: 0, errors: 0, cpuSeconds: 0 }, unsigned: { requests: 0, errors: 0, cpuSeconds: 0 } };
        const batch = async (mode: 'signed' | 'unsigned', requests: number): Promise<void> => {
          const to: Endpoint = { port: envoyPorts[mode], headers: {} };
          const before = await cpuSeconds(pid);
          const result = await closedLoop(to, workload, CONCURRENCY, BATCH_MAX_MS, requests);
          const t = tallies[mode];
          t.cpuSeconds += (await cpuSeconds(pid)) - before;
          t.requests += result.ok + result.errors;
          t.errors += result.errors;
        };
        await batch('signed', 200); // warm up both paths and their connections
        await batch('unsigned', 200);
        tallies.signed = { requests: 0, errors: 0, cpuSeconds: 0 };
        tallies.unsigned = { requests: 0, errors: 0, cpuSeconds: 0 };
        for (let r = 0; r < rounds; r++) {
          // Alternate which goes first, so neither always runs on a warmer or busier machine.
          const order = r % 2 === 0 ? (['signed', 'unsigned'] as const) : (['unsigned', 'signed'] as const);
          for (const mode of order) await batch(mode, size.requests);
        }
        for (const mode of ['signed', 'unsigned'] as const) {
          const t = tallies[mode];
          rows.push({
            size: size.name,
            mode: mode === 'signed' ? 'signed by Envoy' : 'unsigned',
            requests: t.requests,
            errors: t.errors,
            envoyCpuUsPerRequest: t.requests > 0 ? (t.cpuSeconds * 1e6) / t.requests : NaN,
          });
        }
      }
      return { rows, probes, strictStatuses: strict.stats().statuses };
    } finally {
      await envoy.stop();
    }
  } finally {
    await Promise.all(mocks.map((m) => m.close()));
  }
}

const fixed = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');

function report(routerRows: readonly RouterRow[], envoy: Awaited<ReturnType<typeof measureEnvoy>>, rounds: number): string {
  const lines = [
    '# SigV4: the router signing vs Envoy\'s aws_request_signing filter',
    '',
    `${rounds} rounds; \`npm run bench -- --sigv4\` (bench/sigv4.ts). CPU times on this machine, under whatever else ran on it.`,
    '',
    '## The router: the Bedrock adapter\'s signer, per attempt',
    '',
    '| body | bytes | CPU µs per signature | of which the body\'s SHA-256 |',
    '|---|---:|---:|---:|',
    ...routerRows.map((r) => `| ${r.size} | ${r.bodyBytes} | ${fixed(r.signUs)} | ${fixed(r.sha256Us)} |`),
    '',
    '## Envoy 1.40, one worker: the same route with and without the signing filter',
    '',
    `Closed loop, ${CONCURRENCY} connections, batches alternating between the two listeners. No latency is compared: the signed`,
    'listener\'s mock verifies every signature in the process that also sends the load.',
    '',
    '| body | listener | requests | errors | Envoy CPU µs per request |',
    '|---|---|---:|---:|---:|',
    ...envoy.rows.map((r) => `| ${r.size} | ${r.mode} | ${r.requests} | ${r.errors} | ${fixed(r.envoyCpuUsPerRequest)} |`),
    '',
    ...SIZES.map((s) => {
      const signed = envoy.rows.find((r) => r.size === s.name && r.mode === 'signed by Envoy')!;
      const unsigned = envoy.rows.find((r) => r.size === s.name && r.mode === 'unsigned')!;
      return `- ${s.name}: the filter adds ${fixed(signed.envoyCpuUsPerRequest - unsigned.envoyCpuUsPerRequest)} µs of Envoy CPU per request.`;
    }),
    '',
    `The strict Bedrock mock (every signature recomputed) behind the signing listener answered, over the whole run: ${JSON.stringify(envoy.strictStatuses)}.`,
    '',
    '| body | probe status | signed headers | x-amz-content-sha256 | refusal |',
    '|---|---:|---|---|---|',
    ...Object.entries(envoy.probes).map(([size, p]) => `| ${size} | ${p.status} | ${p.signedHeaders ?? '—'} | ${p.payloadHash === null ? 'absent' : p.payloadHash.length === 64 ? 'the body\'s hash' : p.payloadHash} | ${p.refusal ?? '—'} |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, out: { type: 'string', default: join(PROJECT_ROOT, 'bench', 'results', 'sigv4') }, sigv4: { type: 'boolean' } }, strict: false });
  const rounds = Number(values.rounds);
  const routerRows = measureRouter(rounds);
  const dir = await mkdtemp(join(tmpdir(), 'bench-sigv4-'));
  try {
    const envoy = await measureEnvoy(dir, rounds);
    await writeResults(String(values.out), report(routerRows, envoy, rounds), { rounds, router: routerRows, envoy });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runAsEntryPoint('sigv4.js', main);

/**
 * Envoy AI Gateway's external processor (`cmd/extproc`, Go) behind an Envoy of its own, set up as in
 * its data-plane tests (tests/data-plane/envoy.yaml and vcr/extproc.yaml at the pinned release):
 * one OpenAI backend; the router-level ext_proc filter reads the body, sets `x-ai-eg-model` and
 * clears the route cache; routes match that header; the cluster's upstream ext_proc filter is told
 * the backend by the host's `per_route_rule_backend_name` metadata. Same Envoy binary, same mock.
 *
 * Built on first use into bench/.tools/ai-gateway-<version>/ with `go install` from the Go module
 * proxy, or, where the proxy does not serve the module, with `go build` in a checkout of the release
 * named by AI_GATEWAY_SRC.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../src/devstack/ports.js';
import { spawnChild, waitUntil, type Child } from '../../src/devstack/processes.js';
import { spawnEnvoy } from '../envoy.js';
import type { Peer } from './index.js';
import { install, TOOLS } from './tools.js';

/** The newest release when it was added (v1.1.0, commit c217da8). */
export const AI_GATEWAY_VERSION = 'v1.1.0';
const MODULE = 'github.com/envoyproxy/ai-gateway';
/** The filter config's `version` must equal the binary's; a build without the release's linker flags reports "dev". */
const CONFIG_VERSION = 'dev';
const BACKEND = 'openai';

function build(binary: string): string | null {
  const dir = join(TOOLS, `ai-gateway-${AI_GATEWAY_VERSION}`);
  const fromProxy = install(`AI Gateway extproc ${AI_GATEWAY_VERSION}`, binary, 'go', ['install', '-trimpath', `${MODULE}/cmd/extproc@${AI_GATEWAY_VERSION}`], { ...process.env, GOBIN: dir, GOFLAGS: '-mod=mod' });
  if (fromProxy === null) return null;
  const src = process.env.AI_GATEWAY_SRC;
  if (src === undefined) return `${fromProxy}; set AI_GATEWAY_SRC to a checkout of ${MODULE} at ${AI_GATEWAY_VERSION} to build from it`;
  return install(`AI Gateway extproc from ${src}`, binary, 'go', ['build', '-trimpath', '-o', binary, './cmd/extproc'], process.env, src);
}

/** The HTTP/2 cluster Envoy reaches an ext_proc server by. */
const grpcCluster = (name: string, socket: string) => ({
  name,
  connect_timeout: '5s',
  type: 'STATIC',
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }] },
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } },
  },
});

const extProc = (processingMode: Record<string, string>, extra: Record<string, unknown>) => ({
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
  allow_mode_override: true,
  processing_mode: processingMode,
  grpc_service: { envoy_grpc: { cluster_name: 'extproc_cluster' }, timeout: '30s' },
  message_timeout: '60s',
  metadataOptions: { receivingNamespaces: { untyped: ['io.envoy.ai_gateway'] } },
  ...extra,
});

export function aiGatewayEnvoyConfig(ports: { listener: number; admin: number; mock: number }, socket: string, models: readonly string[]): string {
  const loopback = (port: number) => ({ socket_address: { address: '127.0.0.1', port_value: port } });
  return stringify({
    admin: { address: loopback(ports.admin) },
    static_resources: {
      listeners: [
        {
          address: loopback(ports.listener),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    access_log: [
                      {
                        name: 'log_used_token',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
                          log_format: { json_format: { used_token: '%DYNAMIC_METADATA(io.envoy.ai_gateway:used_token)%', status: '%RESPONSE_CODE%', duration_ms: '%DURATION%' } },
                        },
                      },
                    ],
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'local_route',
                          domains: ['*'],
                          routes: models.map((model) => ({ match: { prefix: '/', headers: [{ name: 'x-ai-eg-model', string_match: { exact: model } }] }, route: { cluster: BACKEND, timeout: '0s' } })),
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.ext_proc',
                        typed_config: extProc({ request_header_mode: 'SEND', request_body_mode: 'BUFFERED', response_header_mode: 'SEND', response_body_mode: 'BUFFERED' }, {}),
                      },
                      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppressEnvoyHeaders: true } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        grpcCluster('extproc_cluster', socket),
        {
          name: BACKEND,
          connect_timeout: '5s',
          type: 'STATIC',
          load_assignment: {
            cluster_name: BACKEND,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: loopback(ports.mock) }, metadata: { filter_metadata: { 'aigateway.envoy.io': { per_route_rule_backend_name: BACKEND } } } }] }],
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http_protocol_options: {} },
              http_filters: [
                {
                  name: 'upstream_extproc',
                  typed_config: extProc(
                    { request_header_mode: 'SEND', request_body_mode: 'NONE', response_header_mode: 'SKIP', response_body_mode: 'NONE' },
                    { request_attributes: ["xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']"] },
                  ),
                },
                { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } },
              ],
            },
          },
        },
      ],
    },
  });
}

/**
 * The extproc always opens its admin server on every interface (`:1064`), so it runs in a network
 * namespace of its own, where nothing can reach that port, and serves ext_proc on a Unix socket
 * its Envoy connects to.
 */
export async function startAiGateway(dir: string, models: readonly string[], mockPort: number): Promise<Peer> {
  const binary = join(TOOLS, `ai-gateway-${AI_GATEWAY_VERSION}`, 'extproc');
  const failed = build(binary);
  if (failed !== null) return { name: 'ai-gateway', error: failed };
  const config = join(dir, 'ai-gateway-filter.yaml');
  await writeFile(config, stringify({ version: CONFIG_VERSION, backends: [{ name: BACKEND, schema: { name: 'OpenAI', prefix: 'v1' } }] }));
  const socket = join(dir, 'ai-gateway.sock');
  const isolate = process.getuid?.() === 0 ? ['--net'] : ['--net', '--map-root-user'];
  const extproc = spawnChild('ai-gateway', 'unshare', [...isolate, binary, '-configPath', config, '-extProcAddr', `unix://${socket}`, '-logLevel', 'warn'], { logFile: join(dir, 'ai-gateway.log') });
  let envoy: Child | undefined;
  try {
    await waitUntil(async () => existsSync(socket), 30_000, () => extproc.output(), extproc);
    const [listener, admin] = [await freePort(), await freePort()];
    envoy = await spawnEnvoy('envoy-ai-gateway', dir, aiGatewayEnvoyConfig({ listener, admin, mock: mockPort }, socket, models), admin, [BACKEND]);
    const probe = () =>
      fetch(`http://127.0.0.1:${listener}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: models[0], messages: [{ role: 'user', content: 'hi' }] }) }).then(
        async (r) => (await r.arrayBuffer(), r.ok),
      );
    await waitUntil(probe, 30_000, () => `${extproc.output()}\n${envoy?.output() ?? ''}`, extproc);
    return { name: 'ai-gateway', endpoint: { port: listener, headers: {} }, child: extproc, envoy };
  } catch (err) {
    await envoy?.stop();
    await extproc.stop();
    return { name: 'ai-gateway', error: (err as Error).message.slice(0, 300) };
  }
}

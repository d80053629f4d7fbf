/**
 * Turns a validated router.yaml into the runtime form: lookups by name, prices per token, and
 * credentials read from the environment — all computed once at load so the hot path only indexes.
 */
import type { Capability, RouterConfigFile } from './schema.js';

export type StrategyKind = RouterConfigFile['model_groups'][number]['strategy'];

export interface Price {
  /** nano-USD (1e-9 $) per token; a $/1M-tokens price × 1000. Fractions are kept until the record is rounded. */
  readonly inputNanosPerToken: number;
  readonly cachedInputNanosPerToken: number;
  readonly outputNanosPerToken: number;
}

export interface Deployment {
  readonly name: string;
  readonly provider: string;
  readonly modelGroup: string;
  readonly providerModel: string;
  readonly weight: number;
  readonly price: Price;
  readonly contextWindow: number;
  readonly capabilities: ReadonlySet<Capability>;
  /** Provider credential sent upstream, or null when the deployment needs none (vLLM, the mock). */
  readonly credential: string | null;
  /** Set when `api_key_env` names a variable that is not set, so `serve` can say so at start. */
  readonly missingCredentialEnv: string | null;
}

export interface ModelGroup {
  readonly name: string;
  readonly description: string | null;
  readonly strategy: StrategyKind;
  readonly deployments: readonly Deployment[];
}

export interface ListenAddress {
  readonly address: string;
  readonly port: number;
}

export interface RouterConfig {
  readonly grpc: ListenAddress & { readonly socket?: string | undefined; readonly options: Readonly<Record<string, number | string>> };
  readonly admin: ListenAddress;
  readonly shutdownGraceMs: number;
  readonly clusterHeader: string;
  readonly maxRequestBodyBytes: number;
  readonly state: RouterConfigFile['state'] & { readonly usage_log_max_entries: number };
  readonly logLevel: RouterConfigFile['log_level'];
  readonly groups: ReadonlyMap<string, ModelGroup>;
  readonly deployments: ReadonlyMap<string, Deployment>;
}

export function compileConfig(file: RouterConfigFile, env: NodeJS.ProcessEnv): RouterConfig {
  const deployments = new Map<string, Deployment>();
  const byGroup = new Map<string, Deployment[]>();
  for (const d of file.deployments) {
    const credential = d.api_key_env === undefined ? null : (env[d.api_key_env] ?? null);
    const deployment: Deployment = {
      name: d.name,
      provider: d.provider,
      modelGroup: d.model_group,
      providerModel: d.provider_model,
      weight: d.weight,
      price: {
        inputNanosPerToken: d.price.input_per_million * 1000,
        cachedInputNanosPerToken: (d.price.cached_input_per_million ?? d.price.input_per_million) * 1000,
        outputNanosPerToken: d.price.output_per_million * 1000,
      },
      contextWindow: d.context_window,
      capabilities: new Set(d.capabilities),
      credential,
      missingCredentialEnv: d.api_key_env !== undefined && credential === null ? d.api_key_env : null,
    };
    deployments.set(d.name, deployment);
    const list = byGroup.get(d.model_group) ?? [];
    list.push(deployment);
    byGroup.set(d.model_group, list);
  }
  const groups = new Map<string, ModelGroup>();
  for (const g of file.model_groups) {
    groups.set(g.name, {
      name: g.name,
      description: g.description ?? null,
      strategy: g.strategy,
      deployments: byGroup.get(g.name) ?? [],
    });
  }
  return {
    grpc: file.server.grpc,
    admin: file.server.admin,
    shutdownGraceMs: file.server.shutdown_grace_ms,
    clusterHeader: file.routing.cluster_header,
    maxRequestBodyBytes: file.limits.max_request_body_bytes,
    state: { ...file.state, usage_log_max_entries: file.state.usage_log_max_entries ?? (file.state.kind === 'memory' ? 10_000 : 1_000_000) },
    logLevel: file.log_level,
    groups,
    deployments,
  };
}

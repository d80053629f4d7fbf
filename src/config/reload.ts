/**
 * What a config reload may change in a running router. Routing, groups, deployments, keys, limits,
 * budgets, shedding, the health poll and the log level take effect for the next request; what was
 * bound or built once at start — the listeners, the state store, the gRPC message limit that
 * follows the body limit — keeps its running value until a restart, and the reload names it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RouterConfig } from './compile.js';

/** router.yaml settings that need a restart: the key an operator edits, and its compiled field. */
const RESTART_ONLY: ReadonlyArray<readonly [string, keyof RouterConfig]> = [
  ['server.grpc', 'grpc'],
  ['server.admin', 'admin'],
  ['state', 'state'],
  ['limits.max_request_body_bytes', 'maxRequestBodyBytes'],
  ['tracing', 'tracing'],
];

/** What a reload did, as the admin API and the log report it. */
export type ReloadOutcome =
  | { readonly reloaded: true; readonly groups: number; readonly deployments: number; readonly restart_only: readonly string[] }
  | { readonly reloaded: false; readonly problems: readonly string[] };

export interface Reloaded {
  /** `next`, with the restart-only settings of `running`. */
  readonly config: RouterConfig;
  /** The restart-only settings `next` changes: they apply at the next restart. */
  readonly restartOnly: readonly string[];
}

export function reloadable(running: RouterConfig, next: RouterConfig): Reloaded {
  const config: Record<string, unknown> = { ...next };
  const restartOnly: string[] = [];
  for (const [key, field] of RESTART_ONLY) {
    if (!isDeepStrictEqual(running[field], next[field])) restartOnly.push(key);
    config[field] = running[field];
  }
  return { config: config as unknown as RouterConfig, restartOnly };
}

/** Plain types shared by the routing code; nothing here knows Envoy, Redis or the clock. */
import type { Deployment, ModelGroup } from '../config/compile.js';

/** Injected sources of time and randomness, so every decision can be replayed in a test. */
export interface PolicyEnv {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
}

/** What routing needs to know about a request. */
export interface RouteRequest {
  readonly requestedModel: string;
  readonly stream: boolean;
}

export interface Ranking {
  /** Indices into the candidate list, best first: the primary, then the fallback order. */
  readonly order: readonly number[];
  /** One score per candidate, aligned with the candidate list, in [0, 1], 1 best. */
  readonly scores: readonly number[];
}

export interface Strategy {
  readonly kind: string;
  rank(req: RouteRequest, candidates: readonly Deployment[], env: PolicyEnv): Ranking;
}

export type Decision =
  | {
      readonly outcome: 'routed';
      readonly group: ModelGroup;
      readonly strategy: string;
      readonly primary: Deployment;
      /** The rest of the ranking, in order: where a fallback would go. */
      readonly fallbacks: readonly Deployment[];
      readonly candidates: readonly string[];
      readonly scores: readonly number[];
    }
  | { readonly outcome: 'unknown_model'; readonly requestedModel: string }
  | { readonly outcome: 'no_candidates'; readonly group: ModelGroup };

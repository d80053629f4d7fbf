/** Plain types shared by the routing code; nothing here knows Envoy, Redis or the clock. */
import type { BalancePreset, BalanceWeights, Capability, Deployment, ModelGroup } from '../config/compile.js';
import type { PromptText } from './tokens.js';

/** Injected sources of time and randomness, so every decision can be replayed in a test. */
export interface PolicyEnv {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
}

/**
 * What the client asked for: OpenAI's chat completions, embeddings and legacy text completions, or
 * a count of a Messages request's input tokens (Anthropic's `count_tokens`).
 */
export type Endpoint = 'chat' | 'embeddings' | 'completions' | 'count_tokens';

/** The APIs clients call the gateway with (providers/client-apis.ts). */
export type ClientApi = 'openai' | 'anthropic';

/**
 * What a provider is called for: some APIs stream chat at another path (Gemini, Bedrock). Every
 * provider that serves text completions streams them at the same path, so they have one call.
 */
export type Call = 'chat' | 'chat-stream' | 'embeddings' | 'completions' | 'count_tokens';
export const callOf = (endpoint: Endpoint, stream: boolean): Call => (endpoint === 'chat' && stream ? 'chat-stream' : endpoint);

/** What routing needs to know about a request, derived once from its body and headers (features.ts). */
export interface RouteRequest {
  /** The `model` the client asked for: a model group or a virtual model such as `auto`. */
  readonly model: string;
  readonly stream: boolean;
  /** Capabilities the request needs: `chat` or `embeddings`, `streaming`, `vision` for image parts, `tools`, `json` for response_format. */
  readonly needs: ReadonlySet<Capability>;
  /** An upper bound on the prompt's tokens that costs nothing to compute (its UTF-8 text length). */
  readonly promptTokensBound: number;
  /** The prompt's text, for the pipeline to count before routing when a count may matter. */
  readonly prompt: PromptText;
  /**
   * The pipeline's count (pipeline/token-counting.ts): o200k's as far as its time budget went, one
   * token a byte beyond. null when not counted: the free bound could not exceed any context window
   * or token threshold. Routing reads `promptTokens(req)` (filters.ts).
   */
  readonly promptTokensCounted: number | null;
  /** `max_completion_tokens` or `max_tokens`, when set: a bound on each choice's completion. */
  readonly maxTokens: number | null;
  /** `n`: the completions asked for (1 unless set), each up to `maxTokens`. */
  readonly choices: number;
  /** Its own tags (bounded, deduplicated) and its key's: what deployment tags and tag budgets see. */
  readonly tags: readonly string[];
  /** The tags usage totals count it under: its key's, and its own that the config knows. */
  readonly countedTags: readonly string[];
  /** The models (groups, virtual models) whose groups may serve it, fallbacks included; null: any. */
  readonly allowedModels: ReadonlySet<string> | null;
  readonly tier: string | null;
  /** A balanced-strategy preset the request asked for. */
  readonly preference: BalancePreset | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The text of the last user message: what the classifier reads. */
  readonly lastUserText: string;
  readonly hasImage: boolean;
  readonly hasTools: boolean;
}

/** One of a provider's own limits, as its last response reported it. */
export interface LimitWindow {
  readonly limit: number;
  readonly remaining: number;
  /** When the provider's window frees up again. */
  readonly resetAtMs: number;
}

/** What a provider said of its limits for this deployment (x-ratelimit-* headers), while still current. */
export interface ProviderLimits {
  readonly requests: LimitWindow | null;
  readonly tokens: LimitWindow | null;
}

/** Live load of one deployment, shared by all router replicas through the state store. */
export interface LoadView {
  /** Requests sent to it and not yet finished, across replicas. */
  readonly inFlight: number;
  /** Requests and tokens in the sliding minute. */
  readonly requestsInWindow: number;
  readonly tokensInWindow: number;
  /** Mean of recent samples, or null with none recent. */
  readonly latencyMs: number | null;
  readonly ttftMs: number | null;
  /** Not to be chosen before this time (0: not cooling). */
  readonly coolingUntilMs: number;
  /** The provider's own view of its limits, when reported and not yet reset. */
  readonly provider: ProviderLimits | null;
}

export const IDLE: LoadView = { inFlight: 0, requestsInWindow: 0, tokensInWindow: 0, latencyMs: null, ttftMs: null, coolingUntilMs: 0, provider: null };

export interface Candidate {
  readonly deployment: Deployment;
  readonly load: LoadView;
}

export interface Ranking {
  /** Indices into the candidate list, best first: the primary, then the fallback order. */
  readonly order: readonly number[];
  /** One score per candidate, aligned with the candidate list, in [0, 1], 1 best. */
  readonly scores: readonly number[];
}

/** What a strategy may read besides the candidates. */
export interface StrategyContext {
  readonly group: ModelGroup;
  readonly env: PolicyEnv;
  /** The balanced strategy's weights for this request (the group's, or the request's preset). */
  readonly weights: BalanceWeights;
}

export interface Strategy {
  readonly kind: string;
  rank(req: RouteRequest, candidates: readonly Candidate[], ctx: StrategyContext): Ranking;
}

export const EXCLUSION_REASONS = ['capability', 'context_window', 'tags', 'unhealthy', 'cooldown', 'budget', 'rate_limit', 'tier'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

export interface Exclusion {
  readonly deployment: string;
  readonly reason: ExclusionReason;
  /** Human-readable specifics, e.g. `needs 150012 tokens, window 128000`. */
  readonly detail: string;
  /** For a passing reason (cooldown, rate limit): when the deployment may take requests again. */
  readonly untilMs?: number;
}

/** How a virtual model was resolved to a group. */
export interface Classification {
  readonly virtualModel: string;
  readonly group: string;
  /** `semantic`: the local matcher; `embedding`: vectors from the configured embeddings endpoint. */
  readonly by: 'rule' | 'semantic' | 'embedding' | 'default';
  /** The rule's name or the matched route's group. */
  readonly match: string | null;
  /** The semantic similarity of the best route (also when below the threshold). */
  readonly score: number | null;
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
      readonly excluded: readonly Exclusion[];
      readonly classification: Classification | null;
      /** The group the request asked for, when none of its deployments could take it and a fallback group did: why. */
      readonly fallbackFrom: { readonly group: string; readonly reason: 'context_window' | 'unavailable' } | null;
    }
  | { readonly outcome: 'unknown_model'; readonly requestedModel: string }
  | { readonly outcome: 'no_candidates'; readonly group: ModelGroup; readonly excluded: readonly Exclusion[]; readonly classification: Classification | null };

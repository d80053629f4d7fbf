/**
 * The request-body phase, one stage per step (exchange.ts runs it, then rewrites the request for
 * the deployment chosen):
 *
 *   read      the body's structure checked and its text decoded (json-body.ts)
 *   validate  parsed once, checked (api-request.ts), the model allowed to the key, its features read
 *   count     the prompt counted exactly when a count may matter, within its budget
 *   classify  `auto` and virtual models resolved to a model group (embedding the prompt if asked)
 *   load      the live load of every deployment it may go to, and the budgets its cost would spend
 *   shed      the tier refused or degraded when the group is at its threshold
 *   choose    a deployment and the fallback plan
 *   admit     every charge reserved, or the request refused
 *
 * A token count (`count_tokens`) is read, validated and classified alike, then given to one of its
 * group's deployments that counts (Anthropic's, exact) or counted by the router (an estimate): it
 * is not a completion, so it spends no load, budget or rate limit (docs/decisions.md).
 *
 * A stage refuses by throwing a RouterError; the shared state failing degrades a stage (routing on
 * configuration, admitting or refusing as configured), never the request.
 */
import { randomUUID } from 'node:crypto';
import { mayRequest, type VirtualKey } from '../auth/keys.js';
import { deploymentBudgetCharges, hasDeploymentBudgets, plannedCharges, worstCaseNanos } from '../admission/charges.js';
import { refusal } from '../admission/refusal.js';
import { shedding } from '../admission/shedding.js';
import type { Deployment, ModelGroup } from '../config/compile.js';
import { RouterError } from '../errors.js';
import { embed } from '../providers/openai/embeddings.js';
import { headAndTail } from '../routing/classifier/semantic.js';
import type { LoadsOf, Target } from '../routing/choose.js';
import { routeRequestOf } from '../routing/features.js';
import { completionTokens, earliestRecovery, estimatedPromptTokens } from '../routing/filters.js';
import type { Plan } from '../routing/plan.js';
import * as weightedRandom from '../routing/strategies/weighted-random.js';
import { callOf, IDLE, type Decision, type Endpoint, type ExclusionReason, type LoadView, type RouteRequest } from '../routing/types.js';
import { clipped } from '../telemetry/logger.js';
import { parseChatRequest, parseCompletionsRequest, parseCountTokensRequest, parseEmbeddingsRequest, parseMessagesRequest, type ApiRequest } from './api-request.js';
import type { ClientApi } from '../providers/client-apis.js';
import type { Holdings } from './holdings.js';
import { readBody } from './json-body.js';
import type { Lookup, Ticket } from '../cache/exact.js';
import { directivesOf, entryName, namespaceOf, semanticKeyOf, storeKeyOf, type CachePolicy, type Directives } from '../cache/policy.js';
import { RequestCache } from '../cache/request.js';
import type { Pipeline } from './pipeline.js';
import { runStages, type Stage } from './stages.js';
import type { Headers } from './types.js';

/** Exclusions that hold whatever the load: a request refused for these alone gets a 400, not a retriable 503. */
const PERMANENT: ReadonlySet<ExclusionReason> = new Set(['capability', 'context_window']);
const NOTHING_SPENT: ReadonlySet<string> = new Set();
const UNKNOWN_LOAD: LoadsOf = () => null;
const NO_AMOUNTS: readonly number[] = [];
const BYPASS: Lookup = { kind: 'bypass' };

/** Who sent the request, as the request-headers phase found it. */
export interface Caller {
  readonly endpoint: Endpoint;
  readonly api: ClientApi;
  readonly key: VirtualKey | null;
  /** Who pays: the key's name, or the anonymous id (auth/anonymous.ts). */
  readonly keyId: string;
  readonly headers: Headers;
  readonly requestId: string;
  readonly startMs: number;
}

/** A stage a cache hit skips: nothing goes upstream. */
const unlessHit =
  (stage: Stage<BodyRouting>): Stage<BodyRouting> =>
  (r) =>
    r.cache?.entry != null ? undefined : stage(r);

const STAGES: readonly Stage<BodyRouting>[] = [
  (r) => r.read(),
  (r) => r.validate(),
  (r) => r.count(),
  (r) => r.classify(),
  (r) => r.lookUpCache('group'),
  unlessHit((r) => r.load()),
  unlessHit((r) => r.shed()),
  unlessHit((r) => r.choose()),
  unlessHit((r) => r.lookUpCache('deployment')),
  (r) => r.admit(),
];

const COUNT_STAGES: readonly Stage<BodyRouting>[] = [(r) => r.read(), (r) => r.validate(), (r) => r.classify(), (r) => r.countTokens()];

/** One weighted draw, as the weighted-random strategy makes it. */
const DRAW = weightedRandom.create();

/** The parser of each endpoint's body; chat's depends on the client's API. */
function parserOf(endpoint: Endpoint, api: ClientApi): (text: string) => ApiRequest {
  switch (endpoint) {
    case 'embeddings':
      return parseEmbeddingsRequest;
    case 'completions':
      return parseCompletionsRequest;
    case 'count_tokens':
      return parseCountTokensRequest;
    case 'chat':
      return api === 'anthropic' ? parseMessagesRequest : parseChatRequest;
  }
}

/** One request's body phase: what each stage found, for the next stage and for the exchange. */
export class BodyRouting {
  private text = '';
  req: ApiRequest | null = null;
  features: RouteRequest | null = null;
  private promptVector: Float32Array | null = null;
  private target: NonNullable<Target> | null = null;
  private loadsOf: LoadsOf = UNKNOWN_LOAD;
  private spent: ReadonlySet<string> = NOTHING_SPENT;
  decision: Decision | null = null;
  plan: Plan | null = null;
  deployment: Deployment | null = null;
  /** A token count the router made itself (no deployment of the group counts): its answer. */
  inputTokens: number | null = null;
  /** The exact cache's say, for a group that caches. */
  cache: RequestCache | null = null;
  /** When admission began, on the tracer's clock (its span's start); null: not reached, or tracing off. */
  admitMs: number | null = null;

  constructor(
    private readonly p: Pipeline,
    private readonly caller: Caller,
    private readonly holdings: Holdings,
    /** The request body as the client sent it. */
    readonly body: Buffer,
  ) {}

  /** Resolves (or returns, when no stage waited) once a deployment is chosen and admitted; throws or rejects with the refusal. */
  run(): void | Promise<void> {
    return runStages(this, this.caller.endpoint === 'count_tokens' ? COUNT_STAGES : STAGES);
  }

  read(): void | Promise<void> {
    const limit = this.p.config.maxRequestBodyBytes;
    if (this.body.length > limit) throw new RouterError('body_too_large', `The request body is ${this.body.length} bytes; the limit is ${limit}.`);
    const text = readBody(this.body);
    if (typeof text === 'string') this.text = text;
    else return text.then((read) => void (this.text = read));
  }

  validate(): void {
    const req = parserOf(this.caller.endpoint, this.caller.api)(this.text);
    this.text = '';
    this.req = req;
    const key = this.caller.key;
    if (key !== null && !mayRequest(key, req.model)) {
      throw new RouterError('model_not_allowed', `The API key '${key.name}' may not use the model '${clipped(req.model)}'.`, 'model');
    }
    this.features = routeRequestOf(req.body, this.caller.headers, this.p.config.routing, key, req.endpoint);
  }

  /**
   * A prompt that might not fit a context window (or meets a token rule) is counted, within its
   * budget and in slices that let other requests through (token-counting.ts). A budget of 0 counts
   * nothing exactly: every prompt is taken at its bound.
   */
  count(): void | Promise<void> {
    const features = this.features!;
    const budgetMs = this.p.config.tokenCountBudgetMs;
    if (budgetMs === 0 || features.promptTokensBound + (features.maxTokens ?? 0) < this.p.config.countTokensAbove) return;
    return this.p.tokenCounting.count(features.prompt, budgetMs).then((tokens) => void (this.features = { ...features, promptTokensCounted: tokens }));
  }

  /**
   * A token count goes to a usable deployment of the group whose API counts (Anthropic's: exact),
   * drawn by weight; without one, the router counts the prompt as the count stage does (o200k
   * within the count budget, a token a byte past it): an estimate of another model's count.
   */
  countTokens(): void | Promise<void> {
    const group = this.target!.group;
    const now = this.p.env.now();
    const counting = group.deployments.filter((d) => d.paths.count_tokens !== null && this.p.usable(d.name, now));
    if (counting.length > 0) {
      const ranking = DRAW.rank(this.features!, counting.map((deployment) => ({ deployment, load: IDLE })), { group, env: this.p.env, weights: group.balance.weights });
      this.deployment = counting[ranking.order[0]!]!;
      return;
    }
    const features = this.features!;
    const budgetMs = this.p.config.tokenCountBudgetMs;
    if (budgetMs === 0) {
      this.inputTokens = features.promptTokensBound;
      return;
    }
    return this.p.tokenCounting.count(features.prompt, budgetMs).then((tokens) => void (this.inputTokens = tokens));
  }

  classify(): void | Promise<void> {
    const features = this.features!;
    if (!this.p.router.wantsEmbedding(features)) return this.resolve();
    const endpoint = this.p.config.virtualModels.get(features.model)!.semantic!.embeddings!;
    return embed(endpoint, [headAndTail(features.lastUserText)]).then(
      ([vector]) => {
        this.promptVector = vector!;
        this.resolve();
      },
      (err: unknown) => {
        // The local matcher decides instead: a slow or failing endpoint never fails the request.
        this.p.log.warn({ err, requestId: this.caller.requestId, url: endpoint.url }, 'embeddings endpoint failed: classifying locally');
        this.resolve();
      },
    );
  }

  private resolve(): void {
    this.target = this.p.router.resolve(this.features!, this.promptVector);
    if (this.target === null) throw new RouterError('model_not_found', `The model '${clipped(this.req!.model)}' does not exist or you do not have access to it.`, 'model');
  }

  /**
   * A group that caches looks for the answer (by the group, or once routed by the deployment, as its
   * policy keys entries): a hit skips the routing; a miss goes on, to store what it gets.
   */
  lookUpCache(keyBy: 'group' | 'deployment'): void | Promise<void> {
    const group = this.target!.group;
    const policy = group.cache;
    if (policy === null || policy.keyBy !== keyBy) return;
    const req = this.req!;
    const { headers, key } = this.caller;
    const directives = directivesOf(headers['cache-control'], headers['x-llm-cache-ttl'], req.clientBody);
    const path = `${req.api}:${req.endpoint}`;
    const answeredBy = keyBy === 'group' ? group.name : this.deployment!.name;
    const namespace = namespaceOf(policy.namespace, this.caller.keyId, key?.team ?? null);
    const storeKey = storeKeyOf(namespace, entryName(path, answeredBy, this.body));
    const found = (cache: RequestCache) => {
      this.cache = cache;
      this.p.metrics.cache.inc({ group: group.name, result: cache.result });
    };
    if (!directives.lookup) return found(new RequestCache(group.name, policy, directives, BYPASS, directives.store ? this.p.cache.ticket(storeKey) : null));
    const semantic = policy.semantic !== null && (req.endpoint === 'chat' || req.endpoint === 'completions') ? semanticKeyOf(path, answeredBy, namespace, req.clientBody) : null;
    return this.p.cache.lookup(storeKey, policy.waitMs).then((lookup) => {
      if (lookup.kind !== 'miss' || semantic === null) return found(new RequestCache(group.name, policy, directives, lookup, null));
      return this.lookUpSemantic(policy, directives, group.name, storeKey, semantic, lookup.ticket).then(found);
    });
  }

  /**
   * An exact miss in a group with the semantic cache: the prompt's embedding (through Envoy, from the
   * configured endpoint) is looked up in its partition. A hit is handed to the requests waiting on
   * this one too; a miss keeps the vector, to point at the answer once stored. An embeddings
   * endpoint that fails leaves the exact miss as it was.
   */
  private lookUpSemantic(policy: CachePolicy, directives: Directives, group: string, storeKey: string, key: { text: string; partition: string }, ticket: Ticket): Promise<RequestCache> {
    const semantic = policy.semantic!;
    const miss = { kind: 'miss', ticket } as const;
    return embed(semantic.embeddings, [headAndTail(key.text)]).then(
      async ([vector]) => {
        const hit = await this.p.semantic.find(group, key.partition, vector!, semantic.threshold);
        if (hit !== null) {
          ticket.finish(hit.entry, 0);
          return new RequestCache(group, policy, directives, { kind: 'hit', entry: hit.entry }, null, hit.similarity);
        }
        const add = (ttlMs: number) => void this.p.semantic.add(group, key.partition, storeKey, vector!, this.p.env.now() + ttlMs, semantic.maxEntries);
        return new RequestCache(group, policy, directives, miss, null, null, add);
      },
      (err: unknown) => {
        this.p.log.warn({ err, requestId: this.caller.requestId, url: semantic.embeddings.url }, 'embeddings endpoint failed: semantic cache not consulted');
        return new RequestCache(group, policy, directives, miss, null);
      },
    );
  }

  /**
   * The live load of every deployment the request may be routed or fall back to — and, when
   * provider or model-group budgets exist, which of them this request's worst-case cost would take
   * past one. Without the store the request is routed on configuration.
   */
  load(): void | Promise<void> {
    const features = this.features!;
    const groups = this.p.router.reachable(this.target!.group);
    const deployments = groups.length === 1 ? this.target!.group.deployments : groups.flatMap((g) => g.deployments);
    const names = deployments.map((d) => d.name);
    const now = this.p.env.now();
    const prompt = estimatedPromptTokens(features);
    const completion = completionTokens(features, this.p.config.defaultMaxTokens);
    const budgets = deployments.map((d) => deploymentBudgetCharges(d, worstCaseNanos(prompt, completion, d), now, this.p.config));
    const charges = budgets.flat();
    const found = (loads: LoadView[], used: readonly number[]): void => {
      const spent = new Set<string>();
      let i = 0;
      for (const [j, own] of budgets.entries()) {
        for (const c of own) if (used[i++]! + c.amount > c.limit) spent.add(deployments[j]!.name);
      }
      this.p.availability.learn(names, loads);
      this.loadsOf = loadsByGroup(groups, loads);
      this.spent = spent;
    };
    const unavailable = (err: unknown): void => {
      this.p.storeError(err, 'load unavailable from the state store: routing without it', { requestId: this.caller.requestId });
      this.loadsOf = UNKNOWN_LOAD;
      this.spent = NOTHING_SPENT;
    };
    let loads: LoadView[] | Promise<LoadView[]>;
    let used: readonly number[] | Promise<number[]>;
    try {
      loads = this.p.store.loadOf(names, now);
      used = charges.length === 0 ? NO_AMOUNTS : this.p.store.used(charges);
    } catch (err) {
      return unavailable(err);
    }
    // The in-memory store answers at once: the request is decided in this turn, with no promise made.
    if (!(loads instanceof Promise) && !(used instanceof Promise)) return found(loads, used);
    return Promise.all([loads, used]).then(([l, u]) => found(l, u), unavailable);
  }


  /** At its group's threshold, the tier is refused, or degraded to a group the key may use (whose load is read in turn). */
  shed(): void | Promise<void> {
    const features = this.features!;
    const target = this.target!;
    const shed = shedding(this.p.config, features.tier, target.group.name, this.loadsOf(target.group));
    if (shed === null) return;
    // Degrading is a fallback too: never to a group the key may not use.
    const degradeTo = shed.degradeTo !== null && this.p.router.mayServe(features, shed.degradeTo) ? shed.degradeTo : null;
    this.p.metrics.shed.inc({ tier: features.tier ?? '', group: target.group.name, action: degradeTo === null ? 'refused' : 'degraded' });
    if (degradeTo === null) {
      throw new RouterError(
        'overloaded',
        `'${clipped(this.req!.model)}' is at capacity for tier '${features.tier}' (${shed.inFlight} requests in flight, limit ${shed.limit}); retry shortly.`,
        null,
        1,
      );
    }
    this.target = { group: this.p.config.groups.get(degradeTo)!, classification: target.classification };
    return this.load();
  }

  choose(): void {
    const features = this.features!;
    const req = this.req!;
    const avoid = { budgetSpent: this.spent, unhealthy: this.p.availability.unhealthy };
    const decision = this.p.router.choose(features, this.target!, this.loadsOf, this.p.env, avoid);
    this.decision = decision;
    this.p.count(decision);
    if (decision.outcome !== 'routed') throw refusalOf(decision, clipped(req.model), this.p.env.now());
    const untranslatable = translationRefusal(decision.primary, req);
    if (untranslatable !== null) throw untranslatable;
    this.deployment = decision.primary;
    const planned = req.disableFallbacks ? [] : this.p.router.hops(features, decision, this.loadsOf, this.p.env, avoid);
    // A hop whose provider cannot express the request is no fallback for it.
    const hops = planned.filter((h) => translationRefusal(this.p.config.deployments.get(h.deployment)!, req) === null);
    this.plan = { call: callOf(req.endpoint, req.stream), api: req.api, primary: decision.primary.name, hops };
  }

  /**
   * Every charge reserved, or none. Nothing to reserve: no admission, unless a planned hop has
   * budgets — its cost is settled against this request's reservation (holdings.settle), so an empty
   * one is made to settle against.
   */
  admit(): void | Promise<void> {
    this.admitMs = this.p.tracer?.now() ?? null;
    const features = this.features!;
    const hit = this.cache?.entry != null;
    // A hit is charged only the key's request rate: no tokens, no cost.
    const d = hit ? this.target!.group.deployments[0]! : this.deployment!;
    const config = this.p.config;
    const planned = plannedCharges(
      { key: this.caller.key, tags: features.tags, tier: features.tier, promptTokens: estimatedPromptTokens(features), completionTokens: completionTokens(features, config.defaultMaxTokens), deployment: d, nowMs: this.caller.startMs },
      config,
    );
    const charges = hit ? planned.filter((c) => c.kind === 'requests' && c.meter === `key:${this.caller.key?.name}:rpm`) : planned;
    if (charges.length === 0 && (hit || !this.plan!.hops.some((h) => hasDeploymentBudgets(config.deployments.get(h.deployment)!, config)))) return;
    const id = randomUUID();
    return this.p.store.admit(id, charges).then(
      (result) => {
        if (!result.ok) throw refusal(charges[result.refused]!, result.used, result.buckets, this.p.env.now());
        this.holdings.admitted(id, charges, result.used);
      },
      (err: unknown) => {
        // The configured policy per kind of check: fail open (unmetered) or closed (503).
        const policy = config.onStoreFailure;
        const closed = charges.some((c) => (c.kind === 'cost' ? policy.budgets : policy.rateLimits) === 'closed');
        this.p.storeError(err, closed ? 'admission check failed in the state store: refusing' : 'admission check failed in the state store: admitting without limits', { requestId: this.caller.requestId });
        if (closed) throw new RouterError('admission_unavailable', 'Limits cannot be checked right now; retry shortly.', null, 1);
        // The reservation may have landed after all (a timeout is not a refusal): it is settled like
        // any other, and a settlement of a reservation that never landed changes nothing.
        this.holdings.admitted(id, charges, null);
      },
    );
  }
}

/**
 * Why `d`'s provider cannot take the request (a parameter its API lacks, such as `n` above 1 for
 * Anthropic), or null. Translated once here so that a request no attempt could send is refused
 * before it goes anywhere; each attempt translates again in its own filter.
 */
function translationRefusal(d: Deployment, req: ApiRequest): RouterError | null {
  // Its own API: the client's body goes as it is.
  if (d.adapter.translate === null || d.adapter.native === req.api) return null;
  try {
    d.adapter.translate(req.body, d.providerModel);
    return null;
  } catch (err) {
    if (err instanceof RouterError) return err;
    throw err;
  }
}

/** Why no deployment took the request: retriable (rate limits, cooldowns, load) or not (what it needs). */
function refusalOf(decision: Exclude<Decision, { outcome: 'routed' }>, model: string, nowMs: number): RouterError {
  const excluded = decision.outcome === 'no_candidates' ? decision.excluded : [];
  const why = excluded.map((e) => `${e.deployment}: ${e.reason} (${e.detail})`).join('; ');
  const recovery = earliestRecovery(excluded);
  if (recovery !== null) {
    const retryAfterSec = Math.max(1, Math.ceil((recovery - nowMs) / 1000));
    return new RouterError('rate_limited', `Every deployment of '${model}' is rate limited or cooling down: ${why}. Retry after ${retryAfterSec} s.`, null, retryAfterSec);
  }
  if (excluded.length > 0 && excluded.every((e) => PERMANENT.has(e.reason))) {
    return new RouterError('unsupported_request', `No deployment of '${model}' can serve this request: ${why}.`, 'model');
  }
  return new RouterError('no_deployment', `No deployment of '${model}' can take this request now: ${why}.`, 'model');
}

/** The loads read for `groups`' deployments (in order), per group. */
function loadsByGroup(groups: readonly ModelGroup[], loads: readonly LoadView[]): LoadsOf {
  if (groups.length === 1) return () => loads;
  const byGroup = new Map<string, readonly LoadView[]>();
  let at = 0;
  for (const g of groups) {
    byGroup.set(g.name, loads.slice(at, at + g.deployments.length));
    at += g.deployments.length;
  }
  return (g) => byGroup.get(g.name) ?? null;
}

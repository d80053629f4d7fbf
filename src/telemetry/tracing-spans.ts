/**
 * A routed request's spans, from what the exchange already knows (exchange.ts calls these at its
 * phases): the routing decision with its candidates and exclusions, admission, one span per attempt
 * Envoy made (a fallback hop is an attempt of its own), and the response with its usage, under a
 * root span named and attributed as the OpenTelemetry GenAI conventions say (`chat gpt-4o`,
 * `gen_ai.*`). Times of the attempt log and the usage record (epoch ms of the router's clock) are
 * placed on the trace's clock relative to the request's start.
 */
import type { Deployment } from '../config/compile.js';
import type { AttemptRecord } from '../pipeline/attempts.js';
import type { Decision, Endpoint } from '../routing/types.js';
import type { UsageRecord } from '../state/store.js';
import { GEN_AI_OPERATION, GEN_AI_PROVIDER } from './metrics.js';
import { SPAN_KIND, type RequestTrace, type SpanAttributes, type Tracer } from './tracing.js';

export function providerName(d: Deployment): string {
  return GEN_AI_PROVIDER[d.provider] ?? d.provider;
}

/** The decision's attributes: the group, the strategy, who was ranked, who was left out and why. */
export function decisionAttributes(decision: Decision): SpanAttributes {
  if (decision.outcome === 'unknown_model') return { 'llm_router.decision.outcome': decision.outcome };
  const common = {
    'llm_router.decision.outcome': decision.outcome,
    'llm_router.model_group': decision.group.name,
    'llm_router.decision.excluded': decision.excluded.map((e) => `${e.deployment}:${e.reason}`),
    'llm_router.decision.classified_by': decision.classification?.by,
  };
  if (decision.outcome === 'no_candidates') return common;
  return {
    ...common,
    'llm_router.decision.strategy': decision.strategy,
    'llm_router.decision.candidates': decision.candidates,
    'llm_router.decision.fallbacks': decision.fallbacks.map((d) => d.name),
    'llm_router.decision.fallback_from': decision.fallbackFrom?.group,
    'llm_router.deployment': decision.primary.name,
    'gen_ai.provider.name': providerName(decision.primary),
  };
}

/** What the request used, as the GenAI conventions name it. */
export function usageAttributes(record: UsageRecord): SpanAttributes {
  return {
    'gen_ai.response.model': record.responseModel ?? undefined,
    'gen_ai.usage.input_tokens': record.promptTokens,
    'gen_ai.usage.output_tokens': record.completionTokens,
    'llm_router.usage.estimated': record.usageEstimated,
    'llm_router.cost_usd': record.costNanos / 1e9,
    'http.response.status_code': record.status,
  };
}

export interface AttemptSpan {
  readonly attempt: number;
  readonly deployment: string;
  readonly status: number | null;
  readonly result: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * One span per attempt, from the attempt log (several records of one attempt: its hop being sent,
 * then its outcome). An attempt starts when the one before it ended (the first when the request
 * went upstream) and ends at its last record, or at `lastEndMs` when it has none.
 */
export function attemptSpans(records: readonly AttemptRecord[], sentMs: number, lastEndMs: number): AttemptSpan[] {
  const byAttempt = new Map<number, AttemptRecord[]>();
  for (const r of records) {
    const list = byAttempt.get(r.attempt);
    if (list === undefined) byAttempt.set(r.attempt, [r]);
    else list.push(r);
  }
  const spans: AttemptSpan[] = [];
  let startMs = sentMs;
  for (const attempt of [...byAttempt.keys()].sort((a, b) => a - b)) {
    const list = byAttempt.get(attempt)!;
    const last = list[list.length - 1]!;
    const endMs = Math.min(Math.max(last.atMs, startMs), lastEndMs);
    spans.push({ attempt, deployment: last.deployment, status: last.status, result: last.result, startMs, endMs });
    startMs = endMs;
  }
  return spans;
}

/** The spans of one request the exchange routes; its methods are called in the order of the phases. */
export class RequestSpans {
  private bodyMs: number | null = null;
  private sentMs: number | null = null;
  private operation = '';

  private constructor(
    private readonly trace: RequestTrace,
    /** The exchange's start on the router's clock (env.now()): where its record's times count from. */
    private readonly startEnvMs: number,
    private readonly startTraceMs: number,
  ) {}

  /** Null when the request is not traced. */
  static begin(tracer: Tracer | null, traceparent: string | undefined, startEnvMs: number, requestId: string): RequestSpans | null {
    const trace = tracer?.begin(traceparent, 'llm_router request') ?? null;
    if (trace === null) return null;
    trace.set({ 'llm_router.request_id': requestId });
    return new RequestSpans(trace, startEnvMs, trace.now());
  }

  get traceId(): string {
    return this.trace.traceId;
  }

  get spanId(): string {
    return this.trace.spanId;
  }

  /** A time of the router's clock on the trace's. */
  private onTrace(envMs: number): number {
    return this.startTraceMs + (envMs - this.startEnvMs);
  }

  bodyReceived(): void {
    this.bodyMs = this.trace.now();
  }

  /**
   * The body phase ended: routed and admitted, or refused (`error`, the router's code). `hops`: the
   * deployments its plan gives the attempts after the first. `admitMs`: when admission began (null:
   * the request was refused before it).
   */
  routed(endpoint: Endpoint, requestedModel: string | null, decision: Decision | null, hops: readonly string[], admitMs: number | null, error: string | null): void {
    const now = this.trace.now();
    const bodyMs = this.bodyMs ?? now;
    this.operation = GEN_AI_OPERATION[endpoint];
    const request = { 'gen_ai.operation.name': this.operation, 'gen_ai.request.model': requestedModel ?? undefined };
    this.trace.rename(requestedModel === null ? this.operation : `${this.operation} ${requestedModel}`);
    this.trace.set(request);
    if (decision !== null) {
      const decidedMs = admitMs ?? now;
      this.trace.child('routing decision', SPAN_KIND.internal, bodyMs, decidedMs, { ...request, ...decisionAttributes(decision), 'llm_router.decision.hops': hops }, admitMs === null ? error : null);
      if (decision.outcome === 'routed') this.trace.set({ 'gen_ai.provider.name': providerName(decision.primary), 'llm_router.model_group': decision.group.name });
    }
    if (admitMs !== null) this.trace.child('admission', SPAN_KIND.internal, admitMs, now, { ...request, 'llm_router.admitted': error === null }, error);
    this.sentMs = error === null ? now : null;
  }

  /**
   * The request ended. `attempts`: its attempt log; `served`: the deployment that answered (null when
   * the router answered); `responseEnvMs`: when the response started, on the router's clock.
   */
  finished(record: UsageRecord | null, served: Deployment | null, attempts: readonly AttemptRecord[], responseEnvMs: number | null, status: number, error: string | null): void {
    const now = this.trace.now();
    const responseMs = responseEnvMs === null ? now : Math.min(Math.max(this.onTrace(responseEnvMs), this.sentMs ?? now), now);
    if (this.sentMs !== null) {
      const onTrace = attempts.map((a) => ({ ...a, atMs: this.onTrace(a.atMs) }));
      for (const a of attemptSpans(onTrace, this.sentMs, responseMs)) {
        const d = served?.name === a.deployment ? served : null;
        const failed = a.result !== 'ok' && a.result !== 'sent';
        this.trace.child(
          `${this.operation} attempt ${a.attempt}`,
          SPAN_KIND.client,
          a.startMs,
          a.endMs,
          {
            'gen_ai.operation.name': this.operation,
            'llm_router.attempt': a.attempt,
            'llm_router.deployment': a.deployment,
            'llm_router.attempt.result': a.result,
            'http.response.status_code': a.status ?? undefined,
            'gen_ai.provider.name': d === null ? undefined : providerName(d),
            'gen_ai.request.model': d?.providerModel,
          },
          failed ? a.result : null,
        );
      }
    }
    if (record !== null) {
      const usage = usageAttributes(record);
      this.trace.child('response accounting', SPAN_KIND.internal, responseMs, now, { 'llm_router.deployment': record.deployment, ...usage });
      this.trace.set({ ...usage, 'llm_router.deployment': record.deployment, 'gen_ai.provider.name': served === null ? undefined : providerName(served) });
    } else {
      this.trace.set({ 'http.response.status_code': status });
    }
    this.trace.set({ 'error.type': error ?? undefined });
    this.trace.end(error);
  }
}

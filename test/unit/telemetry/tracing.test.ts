import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/routing/types.js';
import type { UsageRecord } from '../../../src/state/store.js';
import { parseTraceparent, Tracer, underRatio, type SpanRecord } from '../../../src/telemetry/tracing.js';
import { exportRequest, OtlpExporter } from '../../../src/telemetry/tracing-export.js';
import { RequestSpans } from '../../../src/telemetry/tracing-spans.js';
import { config } from '../../support/fixtures.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const ENVOY_SPAN = '00f067aa0ba902b7';

/** A tracer on a clock the test moves, with counting ids, whose exported spans the test reads. */
function testTracer(sampleRatio = 1) {
  const clock = { ms: 1_000_000 };
  const exported: SpanRecord[][] = [];
  let id = 0;
  const tracer = new Tracer({
    sampleRatio,
    now: () => clock.ms,
    randomHex: (bytes) => (++id).toString(16).padStart(bytes * 2, '0'),
    export: (spans) => void exported.push([...spans]),
  });
  return { tracer, clock, exported };
}

describe('parseTraceparent', () => {
  it('reads the W3C header and refuses what is malformed or all zeros', () => {
    expect(parseTraceparent(`00-${TRACE}-${ENVOY_SPAN}-01`)).toEqual({ traceId: TRACE, spanId: ENVOY_SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${ENVOY_SPAN}-00`)?.sampled).toBe(false);
    // A later version may append fields; version 00 may not.
    expect(parseTraceparent(`01-${TRACE}-${ENVOY_SPAN}-01-extra`)?.traceId).toBe(TRACE);
    expect(parseTraceparent(`00-${TRACE}-${ENVOY_SPAN}-01-extra`)).toBeNull();
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${ENVOY_SPAN}-01`)).toBeNull();
    expect(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeNull();
    expect(parseTraceparent(`ff-${TRACE}-${ENVOY_SPAN}-01`)).toBeNull();
    expect(parseTraceparent('garbage')).toBeNull();
    expect(parseTraceparent(undefined)).toBeNull();
  });
});

describe('Tracer sampling', () => {
  it('follows a parent that is not sampled, and samples by trace id under the ratio', () => {
    const { tracer } = testTracer();
    expect(tracer.begin(`00-${TRACE}-${ENVOY_SPAN}-00`, 'x')).toBeNull();
    const traced = tracer.begin(`00-${TRACE}-${ENVOY_SPAN}-01`, 'x');
    expect(traced?.traceId).toBe(TRACE);
    // The same trace id gets the same answer at a ratio in every process.
    expect(underRatio('0'.repeat(24) + '00000001', 0.01)).toBe(true);
    expect(underRatio('0'.repeat(24) + 'ffffffff', 0.99)).toBe(false);
    expect(testTracer(0).tracer.begin(`00-${TRACE}-${ENVOY_SPAN}-01`, 'x')).toBeNull();
  });

  it('starts a trace of its own for a request that arrives without one', () => {
    const { tracer, exported } = testTracer();
    const trace = tracer.begin(undefined, 'request')!;
    trace.end();
    expect(exported[0]![0]).toMatchObject({ traceId: trace.traceId, parentSpanId: null, name: 'request' });
  });
});

const cfg = config();
const mini = cfg.deployments.get('mini-a')!;
const backup = cfg.deployments.get('mini-b')!;
const decision: Decision = {
  outcome: 'routed',
  group: cfg.groups.get('gpt-4o-mini')!,
  strategy: 'weighted-random',
  primary: mini,
  fallbacks: [backup],
  candidates: ['mini-a', 'mini-b'],
  scores: [0.75, 0.25],
  excluded: [{ deployment: 'mini-c', reason: 'cooldown', detail: 'after a 429' }],
  classification: null,
  fallbackFrom: null,
};

function usageRecord(startEnvMs: number): UsageRecord {
  return {
    recordId: 'rec',
    requestId: 'req-1',
    timestampMs: startEnvMs + 90,
    keyId: 'anonymous',
    team: null,
    tags: [],
    requestedModel: 'gpt-4o-mini',
    deployment: 'mini-b',
    provider: 'azure-openai',
    providerModel: 'gpt-4o-mini',
    responseModel: 'gpt-4o-mini-2024-07-18',
    stream: false,
    status: 200,
    complete: true,
    usageEstimated: false,
    promptTokens: 12,
    cachedPromptTokens: 0,
    completionTokens: 7,
    reasoningTokens: 0,
    totalTokens: 19,
    costNanos: 6000,
    cache: null,
    savedCostNanos: 0,
    latencyMs: 90,
    ttfbMs: 80,
    ttftMs: 80,
  };
}

describe('RequestSpans', () => {
  it('builds a fallback request: decision, admission, two attempt spans and the response, under a GenAI root span that is a child of Envoy’s', () => {
    const { tracer, clock, exported } = testTracer();
    const startEnvMs = 5_000;
    const spans = RequestSpans.begin(tracer, `00-${TRACE}-${ENVOY_SPAN}-01`, startEnvMs, 'req-1')!;
    clock.ms += 2;
    spans.bodyReceived();
    clock.ms += 1;
    const admitMs = clock.ms;
    clock.ms += 1;
    spans.routed('chat', 'gpt-4o-mini', decision, ['mini-b'], admitMs, null);
    // Attempt 1 failed 30 ms into the request; attempt 2 (the hop) was sent then and answered at 80 ms.
    const attempts = [
      { attempt: 1, deployment: 'mini-a', status: 500, result: 'failed', next: 'mini-b', atMs: startEnvMs + 30 },
      { attempt: 2, deployment: 'mini-b', status: null, result: 'sent', next: null, atMs: startEnvMs + 31 },
      { attempt: 2, deployment: 'mini-b', status: 200, result: 'ok', next: null, atMs: startEnvMs + 80 },
    ];
    clock.ms = 1_000_000 + 90;
    spans.finished(usageRecord(startEnvMs), backup, attempts, startEnvMs + 80, 200, null);

    expect(exported).toHaveLength(1);
    const byName = new Map(exported[0]!.map((s) => [s.name, s]));
    const root = byName.get('chat gpt-4o-mini')!;
    expect(root).toMatchObject({ traceId: TRACE, parentSpanId: ENVOY_SPAN, kind: 2, startMs: 1_000_000, endMs: 1_000_090, error: null });
    expect(root.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.provider.name': 'azure.ai.openai',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
      'llm_router.request_id': 'req-1',
      'llm_router.deployment': 'mini-b',
    });
    for (const s of exported[0]!) if (s !== root) expect(s.parentSpanId).toBe(root.spanId);

    expect(byName.get('routing decision')).toMatchObject({ startMs: 1_000_002, endMs: 1_000_003 });
    expect(byName.get('routing decision')!.attributes).toMatchObject({
      'llm_router.decision.candidates': ['mini-a', 'mini-b'],
      'llm_router.decision.excluded': ['mini-c:cooldown'],
      'llm_router.decision.fallbacks': ['mini-b'],
      'llm_router.decision.hops': ['mini-b'],
      'llm_router.deployment': 'mini-a',
      'gen_ai.provider.name': 'openai',
    });
    expect(byName.get('admission')).toMatchObject({ startMs: 1_000_003, endMs: 1_000_004, attributes: { 'llm_router.admitted': true, 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-mini' } });
    expect(byName.get('chat attempt 1')).toMatchObject({ kind: 3, startMs: 1_000_004, endMs: 1_000_030, error: 'failed', attributes: { 'llm_router.deployment': 'mini-a', 'http.response.status_code': 500 } });
    expect(byName.get('chat attempt 2')).toMatchObject({ startMs: 1_000_030, endMs: 1_000_080, error: null });
    expect(byName.get('chat attempt 2')!.attributes).toMatchObject({ 'gen_ai.provider.name': 'azure.ai.openai', 'gen_ai.request.model': 'gpt-4o-mini', 'http.response.status_code': 200 });
    expect(byName.get('response accounting')).toMatchObject({ startMs: 1_000_080, endMs: 1_000_090, attributes: { 'gen_ai.usage.output_tokens': 7, 'llm_router.cost_usd': 0.000006 } });
  });

  it('marks a request refused at admission: no attempts, the admission span in error', () => {
    const { tracer, clock, exported } = testTracer();
    const spans = RequestSpans.begin(tracer, undefined, 0, 'req-2')!;
    spans.bodyReceived();
    const admitMs = clock.ms;
    clock.ms += 3;
    spans.routed('chat', 'gpt-4o-mini', decision, ['mini-b'], admitMs, 'rate_limited');
    spans.finished(null, null, [], null, 429, 'rate_limited');
    const names = exported[0]!.map((s) => [s.name, s.error]);
    expect(names).toEqual([
      ['routing decision', null],
      ['admission', 'rate_limited'],
      ['chat gpt-4o-mini', 'rate_limited'],
    ]);
  });
});

describe('OTLP export', () => {
  const span: SpanRecord = { traceId: TRACE, spanId: ENVOY_SPAN, parentSpanId: null, name: 's', kind: 1, startMs: 1.5, endMs: 2, attributes: { a: 'x', n: 3, f: 0.5, b: true, l: ['p', 'q'], u: undefined }, error: 'boom' };

  it('writes the OTLP JSON mapping: hex ids, nanosecond strings, typed attributes, error status', () => {
    const body = exportRequest([span], 'llm-router') as { resourceSpans: [{ resource: unknown; scopeSpans: [{ spans: unknown[] }] }] };
    expect(body.resourceSpans[0].resource).toEqual({ attributes: [{ key: 'service.name', value: { stringValue: 'llm-router' } }] });
    expect(body.resourceSpans[0].scopeSpans[0].spans[0]).toEqual({
      traceId: TRACE,
      spanId: ENVOY_SPAN,
      name: 's',
      kind: 1,
      startTimeUnixNano: '1500000',
      endTimeUnixNano: '2000000',
      attributes: [
        { key: 'a', value: { stringValue: 'x' } },
        { key: 'n', value: { intValue: '3' } },
        { key: 'f', value: { doubleValue: 0.5 } },
        { key: 'b', value: { boolValue: true } },
        { key: 'l', value: { arrayValue: { values: [{ stringValue: 'p' }, { stringValue: 'q' }] } } },
      ],
      status: { code: 2, message: 'boom' },
    });
  });

  it('sends queued spans in batches, and drops past the queue bound instead of waiting', async () => {
    const posts: number[] = [];
    const exporter = new OtlpExporter({
      url: 'http://collector/v1/traces',
      serviceName: 'r',
      intervalMs: 60_000,
      maxBatch: 2,
      maxQueued: 3,
      post: async (_url, body) => void posts.push((JSON.parse(body) as { resourceSpans: [{ scopeSpans: [{ spans: unknown[] }] }] }).resourceSpans[0].scopeSpans[0].spans.length),
      onError: () => undefined,
    });
    exporter.add([span]);
    exporter.add([span]);
    exporter.add([span, span]);
    expect(exporter.dropped).toBe(2);
    await exporter.flush();
    expect(posts).toEqual([2]);
  });
});

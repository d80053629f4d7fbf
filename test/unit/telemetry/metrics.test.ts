import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { Outcome } from '../../../src/pipeline/types.js';
import { MemoryStore } from '../../../src/state/memory.js';
import { config, fixedEnv } from '../../support/fixtures.js';
import { metricsText } from '../../support/metrics.js';

const HEADERS = { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': 'req-1' };
const body = (o: unknown) => Buffer.from(JSON.stringify(o));

function pipeline() {
  const store = new MemoryStore(100, { latencySamples: 20, latencyMaxAgeMs: 60_000 });
  return { store, p: new Pipeline(config(), store, fixedEnv([0.1]), pino({ level: 'silent' })) };
}

/** One streamed chat through the pipeline, answered with `usage` by `responseModel`. */
async function streamedChat(p: Pipeline, responseModel: string, usage: object): Promise<void> {
  const x = p.exchange();
  x.onRequestHeaders(HEADERS, false);
  await x.onRequestBody(body({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  x.onResponseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }, false);
  x.onResponseBody(Buffer.from('data: {"choices":[{"delta":{"content":"x"}}],"usage":null}\n\n'), false);
  x.onResponseBody(Buffer.from(`data: ${JSON.stringify({ model: responseModel, choices: [], usage })}\n\ndata: [DONE]\n\n`), true);
  x.onEnd();
}

/** The sample lines of `name` in the exposition text. */
const samples = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('GenAI metrics', () => {
  it('a served stream: token usage by type, duration, time to first token and cost, labelled by provider, models, deployment and group', async () => {
    const { p } = pipeline();
    await streamedChat(p, 'gpt-4o-mini-2024-07-18', { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 });
    const text = await metricsText(p.metrics);
    const labels =
      'gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_response_model="gpt-4o-mini-2024-07-18",deployment="mini-a",model_group="gpt-4o-mini"';
    expect(text).toContain('# TYPE gen_ai_client_token_usage histogram');
    expect(samples(text, 'gen_ai_client_token_usage_sum')).toEqual([`gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="input"} 1000`, `gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="output"} 100`]);
    expect(text).toContain(`gen_ai_client_token_usage_bucket{${labels},gen_ai_token_type="input",le="1024"} 1`);
    expect(text).toContain(`gen_ai_client_token_usage_bucket{${labels},gen_ai_token_type="output",le="64"} 0`);
    expect(samples(text, 'gen_ai_server_request_duration_seconds_count')).toEqual([`gen_ai_server_request_duration_seconds_count{${labels},error_type=""} 1`]);
    expect(samples(text, 'gen_ai_server_time_to_first_token_seconds_count')).toEqual([`gen_ai_server_time_to_first_token_seconds_count{${labels}} 1`]);
    expect(samples(text, 'gen_ai_server_time_per_output_token_seconds_count')).toEqual([`gen_ai_server_time_per_output_token_seconds_count{${labels}} 1`]);
    // 1000 × $0.15 + 100 × $0.60 per million.
    expect(samples(text, 'llm_router_cost_usd_total')).toEqual([`llm_router_cost_usd_total{${labels}} 0.00021`]);
    expect(samples(text, 'llm_router_requests_total')).toEqual(['llm_router_requests_total{endpoint="chat",status="200"} 1']);
  });

  it('requests the router answers itself: counted by endpoint and status, refusals by their code', async () => {
    const { p } = pipeline();
    const unknown = p.exchange();
    unknown.onRequestHeaders(HEADERS, false);
    const out = (await unknown.onRequestBody(body({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }))) as Outcome;
    expect(out.kind).toBe('reply');
    unknown.onEnd();
    const models = p.exchange();
    models.onRequestHeaders({ ':method': 'GET', ':path': '/v1/models' }, true);
    models.onEnd();
    const text = await metricsText(p.metrics);
    expect(samples(text, 'llm_router_requests_total')).toEqual(['llm_router_requests_total{endpoint="chat",status="404"} 1', 'llm_router_requests_total{endpoint="models",status="200"} 1']);
    expect(samples(text, 'llm_router_refused_total')).toEqual(['llm_router_refused_total{reason="model_not_found"} 1']);
  });

  it('exposes every configured deployment\'s failed attempts at zero before any request, so the first failures count in its error ratio', async () => {
    const { p } = pipeline();
    const failed = samples(await metricsText(p.metrics), 'llm_router_attempts_total');
    expect(failed).toEqual(
      ['mini-a', 'mini-b', 'big'].flatMap((d) => [`llm_router_attempts_total{deployment="${d}",hop="first",result="failed"} 0`, `llm_router_attempts_total{deployment="${d}",hop="fallback",result="failed"} 0`]),
    );
  });

  it("keeps a provider's response models apart up to a bound, then folds the rest into _OTHER", async () => {
    const { p } = pipeline();
    const usage = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 };
    for (let i = 0; i < 10; i++) await streamedChat(p, `snapshot-${i}`, usage);
    const counts = samples(await metricsText(p.metrics), 'gen_ai_server_request_duration_seconds_count');
    expect(counts.map((l) => /gen_ai_response_model="([^"]+)"/.exec(l)![1])).toEqual(['snapshot-0', 'snapshot-1', 'snapshot-2', 'snapshot-3', '_OTHER']);
    expect(counts.at(-1)).toMatch(/ 6$/);
  });
});

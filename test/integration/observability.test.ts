/**
 * What an operator sees of requests through real Envoy: the gateway's request id back to the
 * client and in the usage record; Envoy's access log line with the router's dynamic metadata
 * (model, group, deployment, provider, decision, tokens, cost); the GenAI metrics at /metrics.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitUntil } from '../../src/devstack/processes.js';
import type { UsageRecord } from '../../src/state/store.js';
import { startStack, type AccessLogEntry, type Stack } from '../support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ deployments: [{ name: 'a', group: 'gpt-4o-mini', behaviour: { chunks: 5 } }] });
});

afterAll(async () => {
  await stack?.stop();
});

const chat = (body: object, headers: Record<string, string> = {}) =>
  fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers }, body: JSON.stringify(body) });

async function recordOf(requestId: string): Promise<UsageRecord> {
  let found: UsageRecord | undefined;
  await waitUntil(async () => (found = (await stack.usageLog(100)).find((r) => r.requestId === requestId)) !== undefined, 10_000, () => `no usage record for ${requestId}`);
  return found!;
}

async function logLineOf(requestId: string): Promise<AccessLogEntry> {
  let found: AccessLogEntry | undefined;
  await waitUntil(async () => (found = (await stack.accessLog()).find((e) => e.request_id === requestId)) !== undefined, 15_000, () => `no access log line for ${requestId}`);
  return found!;
}

it("the client's x-request-id is the gateway's: it finds the usage record and Envoy's access log line, which carries the router's decision and usage", async () => {
  for (const stream of [false, true]) {
    const res = await chat({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'hello there' }] });
    expect(res.status).toBe(200);
    await res.text();
    const requestId = res.headers.get('x-request-id');
    // Envoy's own id (a UUID), not the provider's.
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const record = await recordOf(requestId!);
    expect(record).toMatchObject({ deployment: 'a', stream, status: 200 });
    expect(await logLineOf(requestId!)).toMatchObject({
      status: 200,
      model: 'gpt-4o-mini',
      model_group: 'gpt-4o-mini',
      deployment: 'a',
      provider: 'openai',
      decision: 'ranked',
      input_tokens: record.promptTokens,
      output_tokens: record.completionTokens,
      cost_usd: record.costNanos / 1e9,
      router_error: null,
    });
  }
});

it('a client that sends its own x-request-id gets it back, in its record and log line', async () => {
  const res = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'client-chosen-42' });
  await res.text();
  expect(res.headers.get('x-request-id')).toBe('client-chosen-42');
  expect((await recordOf('client-chosen-42')).deployment).toBe('a');
  expect((await logLineOf('client-chosen-42')).deployment).toBe('a');
});

it("a refusal's log line names the router's error code", async () => {
  const res = await chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
  expect(res.status).toBe(404);
  await res.text();
  const line = await logLineOf(res.headers.get('x-request-id')!);
  expect(line).toMatchObject({ status: 404, router_error: 'model_not_found', deployment: null });
});

it('/metrics: GenAI token usage, duration and time to first token per deployment, requests by status, process and build metrics', async () => {
  const text = await (await fetch(`${stack.routerAdmin}/metrics`)).text();
  const labels = 'gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_response_model="gpt-4o-mini-provider",deployment="a",model_group="gpt-4o-mini"';
  expect(text).toMatch(new RegExp(`^gen_ai_client_token_usage_count\\{${labels},gen_ai_token_type="input"\\} 3$`, 'm'));
  expect(text).toMatch(new RegExp(`^gen_ai_server_request_duration_seconds_count\\{${labels},error_type=""\\} 3$`, 'm'));
  expect(text).toMatch(new RegExp(`^gen_ai_server_time_to_first_token_seconds_count\\{${labels}\\} 1$`, 'm'));
  expect(text).toMatch(/^llm_router_requests_total\{endpoint="chat",status="200"\} 3$/m);
  expect(text).toMatch(/^llm_router_refused_total\{reason="model_not_found"\} 1$/m);
  expect(text).toMatch(/^llm_router_deployment_in_flight\{deployment="a"\} 0$/m);
  expect(text).toMatch(/^llm_router_state_store_degraded 0$/m);
  expect(text).toMatch(/^process_cpu_seconds_total \d/m);
  expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  expect(text).toMatch(/^llm_router_build_info\{version="\d+\.\d+\.\d+",nodejs_version="v\d+/m);
});

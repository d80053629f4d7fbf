/**
 * The strict Bedrock mock: every request's SigV4 signature recomputed, Converse bodies checked, JSON
 * and eventstream answers (the stream byte for byte the golden transcript), Bedrock's error shape.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStreamDecoder } from '../../../src/providers/bedrock/eventstream.js';
import { signRequest, type AwsCredentials } from '../../../src/providers/bedrock/sigv4.js';
import { startMockInstance, type MockInstance } from '../../../src/mock/server.js';

const GOLDEN_FILE = join(import.meta.dirname, '../../fixtures/streams/bedrock-mock-tool.eventstream.b64');
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' };
const MODEL_PATH = `/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}`;
const TOOL_BODY = {
  messages: [{ role: 'user', content: [{ text: 'Weather in Paris?' }] }],
  toolConfig: { tools: [{ toolSpec: { name: 'get_weather', description: 'Current weather', inputSchema: { json: { type: 'object' } } } }] },
};

let mock: MockInstance;
beforeAll(async () => {
  mock = await startMockInstance(
    { name: 'golden', port: 0, format: 'bedrock', behaviour: { chunks: 3 }, aws: { access_key_id: CREDENTIALS.accessKeyId, secret_access_key: CREDENTIALS.secretAccessKey, region: 'eu-west-1' } },
    { signatureClock: () => NOW },
  );
});
afterAll(() => mock.close());

async function call(path: string, body: unknown, opts: { credentials?: AwsCredentials; region?: string; tamper?: (h: Record<string, string>) => void } = {}): Promise<Response> {
  const bytes = Buffer.from(JSON.stringify(body));
  const host = `127.0.0.1:${mock.port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of signRequest({ method: 'POST', host, path, body: bytes, headers: [['content-type', 'application/json']] }, opts.credentials ?? CREDENTIALS, { region: opts.region ?? 'eu-west-1', service: 'bedrock' }, NOW)) headers[k] = v;
  opts.tamper?.(headers);
  return fetch(`http://${host}${path}`, { method: 'POST', headers, body: bytes });
}

describe('Bedrock mock', () => {
  // First: the transcript's ids hold the instance's first sequence number.
  it('streams ConverseStream as eventstream, byte for byte the golden transcript', async () => {
    const res = await call(`${MODEL_PATH}/converse-stream`, TOOL_BODY);
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.toString('base64')).toBe(readFileSync(GOLDEN_FILE, 'utf8').trim());
    const types = new EventStreamDecoder().push(bytes).map((m) => m.headers[':event-type']);
    expect(types).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'contentBlockStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    expect(mock.stats().usage).toMatchObject({ promptTokens: 5, completionTokens: 4 });
  });

  it('answers Converse with a tool call and deterministic usage', async () => {
    const res = await call(`${MODEL_PATH}/converse`, TOOL_BODY);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'Hello wörld,' }, { toolUse: { toolUseId: 'tooluse_mock_golden_2', name: 'get_weather', input: {} } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 5, outputTokens: 4, totalTokens: 9 },
      metrics: { latencyMs: 0 },
    });
  });

  it('refuses a bad signature, an unknown key, an expired or unsigned request', async () => {
    const expectError = async (res: Response, status: number, type: string, message: RegExp) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('x-amzn-errortype')).toBe(type);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    };
    await expectError(await call(`${MODEL_PATH}/converse`, TOOL_BODY, { credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } }), 403, 'InvalidSignatureException', /does not match/);
    await expectError(await call(`${MODEL_PATH}/converse`, TOOL_BODY, { credentials: { ...CREDENTIALS, accessKeyId: 'AKIAOTHER' } }), 403, 'UnrecognizedClientException', /security token/);
    await expectError(await call(`${MODEL_PATH}/converse`, TOOL_BODY, { region: 'us-east-1' }), 403, 'InvalidSignatureException', /scoped/);
    await expectError(await call(`${MODEL_PATH}/converse`, TOOL_BODY, { tamper: (h) => delete h.authorization }), 403, 'MissingAuthenticationTokenException', /Missing Authentication Token/);
    await expectError(await call(`${MODEL_PATH}/converse`, TOOL_BODY, { tamper: (h) => (h['content-type'] = 'application/json; charset=utf-8') }), 403, 'InvalidSignatureException', /does not match/);
  });

  it('refuses unknown fields, bad turns and blank text with a ValidationException', async () => {
    const expect400 = async (body: unknown, message: RegExp) => {
      const res = await call(`${MODEL_PATH}/converse`, body);
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    };
    await expect400({ ...TOOL_BODY, tags: ['a'] }, /extraneous key \[tags\]/);
    await expect400({ ...TOOL_BODY, inferenceConfig: { max_tokens: 5 } }, /extraneous key \[max_tokens\]/);
    await expect400({ messages: [{ role: 'assistant', content: [{ text: 'x' }] }] }, /start with a user message/);
    await expect400({ messages: [{ role: 'user', content: [{ text: ' ' }] }] }, /blank/);
    await expect400({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, /exactly one member/);
  });

  it('answers an asked-for status in Bedrock shape, and an unknown path with 404', async () => {
    const res = await call(`${MODEL_PATH}/converse`, TOOL_BODY, { tamper: (h) => (h['x-mock-status'] = '429') });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-amzn-errortype')).toBe('ThrottlingException');
    const missing = await call('/model/x/invoke', TOOL_BODY);
    expect(missing.status).toBe(404);
  });
});

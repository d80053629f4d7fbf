/**
 * Amazon Bedrock's Converse wire format: `POST /model/{modelId}/converse` (JSON) and
 * `/converse-stream` (`application/vnd.amazon.eventstream`: messageStart → contentBlockDelta … →
 * contentBlockStop → messageStop → metadata), every request signed with SigV4 (service `bedrock`),
 * the signature recomputed with the instance's key pair (providers/bedrock/sigv4.ts, the router's own
 * signer's counterpart). Errors are `{"message"}` with the type in `x-amzn-errortype`. Wording:
 * AWS's for signature errors; "Malformed input request: extraneous key [x] is not permitted" is what
 * Bedrock answers for a field a model's schema does not know; the rest is the mock's own. Event
 * payloads carry Bedrock's `p` padding field, which readers must ignore.
 */
import { randomUUID } from 'node:crypto';
import { encodeMessage } from '../../providers/bedrock/eventstream.js';
import { verifyRequest, type AwsCredentials } from '../../providers/bedrock/sigv4.js';
import { auditParams, contentChars, tokensOfChars, type Answer, type AnswerContext, type JsonType, type Rejection, type WireFormat } from '../wire.js';

/** `ConverseRequest`'s body members (`@aws-sdk/client-bedrock-runtime`; modelId is in the path). */
const CONVERSE_PARAMS: Readonly<Record<string, readonly JsonType[]>> = {
  messages: ['array'],
  system: ['array'],
  inferenceConfig: ['object'],
  toolConfig: ['object'],
  guardrailConfig: ['object'],
  additionalModelRequestFields: ['object'],
  promptVariables: ['object'],
  additionalModelResponseFieldPaths: ['array'],
  requestMetadata: ['object'],
  performanceConfig: ['object'],
};
const INFERENCE_PARAMS: Readonly<Record<string, readonly JsonType[]>> = { maxTokens: ['integer'], temperature: ['number'], topP: ['number'], stopSequences: ['array'] };
/** `ContentBlock` members: each block sets exactly one. */
const BLOCK_KINDS: ReadonlySet<string> = new Set(['text', 'image', 'document', 'video', 'toolUse', 'toolResult', 'guardContent', 'cachePoint', 'reasoningContent', 'citationsContent']);

const TYPES: Readonly<Record<number, string>> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

export function bedrockError(status: number, message: string, type = TYPES[status] ?? (status >= 500 ? 'InternalServerException' : 'ValidationException')): Rejection {
  return { status, body: { message }, headers: { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() } };
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;

export interface BedrockMockSettings {
  readonly credentials: AwsCredentials;
  readonly region: string;
  /** The clock signatures are checked against (ms since the epoch). */
  readonly clock: () => number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const malformed = (key: string) => bedrockError(400, `Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);

function checkMessages(messages: unknown[]): Rejection | null {
  if (messages.length === 0) return bedrockError(400, 'A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) return bedrockError(400, `1 validation error detected: Value at 'messages.${i + 1}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]`);
    if (i === 0 && m.role !== 'user') return bedrockError(400, 'A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (i > 0 && (messages[i - 1] as Json).role === m.role) return bedrockError(400, 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    for (const key of Object.keys(m)) if (key !== 'role' && key !== 'content') return malformed(key);
    if (!Array.isArray(m.content) || m.content.length === 0) return bedrockError(400, `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`);
    for (const block of m.content as unknown[]) {
      const keys = isObject(block) ? Object.keys(block) : [];
      if (keys.length !== 1 || !BLOCK_KINDS.has(keys[0]!)) return bedrockError(400, `The model returned the following errors: messages.${i}.content: each ContentBlock sets exactly one member.`);
      if (keys[0] === 'text' && (typeof (block as Json).text !== 'string' || ((block as Json).text as string).trim() === '')) {
        return bedrockError(400, 'The text field in the ContentBlock object is blank. Add text to the text field, and try again.');
      }
    }
  }
  return null;
}

function checkToolConfig(toolConfig: Json): Rejection | null {
  for (const key of Object.keys(toolConfig)) if (key !== 'tools' && key !== 'toolChoice') return malformed(key);
  if (!Array.isArray(toolConfig.tools) || toolConfig.tools.length === 0) return bedrockError(400, "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1");
  for (const tool of toolConfig.tools as unknown[]) {
    const spec = isObject(tool) ? tool.toolSpec : undefined;
    if (!isObject(spec) || typeof spec.name !== 'string' || !isObject(spec.inputSchema) || !isObject(spec.inputSchema.json)) return bedrockError(400, 'The toolSpec of each tool needs a name and an inputSchema.json object.');
    for (const key of Object.keys(spec)) if (!['name', 'description', 'inputSchema', 'strict'].includes(key)) return malformed(key);
  }
  return null;
}

/** The p field Bedrock pads event payloads with; deterministic here. */
const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';

const frame = (type: string, payload: Json): Buffer =>
  encodeMessage(
    [
      [':event-type', type],
      [':content-type', 'application/json'],
      [':message-type', 'event'],
    ],
    Buffer.from(JSON.stringify({ ...payload, p: PADDING.slice(0, 1 + (type.length % PADDING.length)) })),
  );

function toolNameFor(body: Readonly<Json>): string | null {
  const config = isObject(body.toolConfig) ? body.toolConfig : null;
  const tools = Array.isArray(config?.tools) ? (config.tools as Array<{ toolSpec?: { name?: unknown } }>) : [];
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
  const last = messages.at(-1)?.content;
  if (tools.length === 0 || (Array.isArray(last) && (last as Json[]).some((b) => isObject(b) && 'toolResult' in b))) return null;
  const choice = isObject(config?.toolChoice) && isObject(config.toolChoice.tool) ? config.toolChoice.tool.name : undefined;
  const name = typeof choice === 'string' ? choice : tools[0]?.toolSpec?.name;
  return typeof name === 'string' ? name : null;
}

function converseAnswer(body: Readonly<Json>, ctx: AnswerContext, stream: boolean): Answer {
  const b = ctx.behaviour;
  let chars = contentChars(body.system);
  if (Array.isArray(body.messages)) for (const m of body.messages as Array<{ content?: unknown }>) chars += contentChars(m?.content);
  const inputTokens = tokensOfChars(chars);
  const tool = toolNameFor(body);
  const toolUseId = `tooluse_mock_${ctx.instance}_${ctx.sequence}`;
  const outputTokens = b.chunks + (tool === null ? 0 : 1);
  const stopReason = tool === null ? 'end_turn' : 'tool_use';
  const usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  const reported = { promptTokens: inputTokens, completionTokens: outputTokens };
  if (!stream) {
    const text = Array.from({ length: b.chunks }, (_, i) => ctx.word(i)).join('');
    const content: Json[] = [{ text }];
    if (tool !== null) content.push({ toolUse: { toolUseId, name: tool, input: {} } });
    return { kind: 'json', usage: reported, reportsUsage: true, body: { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 0 } } };
  }
  return {
    kind: 'stream',
    usage: reported,
    reportsUsage: true,
    script: {
      contentType: 'application/vnd.amazon.eventstream',
      head: [frame('messageStart', { role: 'assistant' })],
      chunk: (i) => frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ctx.word(i) } }),
      tail: [
        frame('contentBlockStop', { contentBlockIndex: 0 }),
        ...(tool === null
          ? []
          : [
              frame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId, name: tool } } }),
              frame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{}' } } }),
              frame('contentBlockStop', { contentBlockIndex: 1 }),
            ]),
        frame('messageStop', { stopReason }),
      ],
      end: frame('metadata', { usage, metrics: { latencyMs: 0 } }),
    },
  };
}

export function bedrockFormat(settings: BedrockMockSettings): WireFormat {
  const scope = { region: settings.region, service: 'bedrock' };
  return {
    route(req) {
      return req.method === 'POST' && ROUTE.test(req.path) ? 'chat' : bedrockError(404, 'The requested operation is not recognized by the service.', 'UnknownOperationException');
    },
    checkRequest(req, _expectedKey, body) {
      const failure = verifyRequest({ method: req.method, path: req.path, query: req.query.toString(), headers: req.headers, body }, settings.credentials, scope, settings.clock());
      if (failure !== null) return bedrockError(403, failure.message, failure.error);
      return null;
    },
    checkBody(_endpoint, body) {
      if (!isObject(body)) return bedrockError(400, 'Malformed input request, please reformat your input and try again.');
      const { unknown, mistyped } = auditParams(body, CONVERSE_PARAMS);
      if (unknown.length > 0) return malformed(unknown[0]!);
      if (mistyped !== null) return bedrockError(400, `1 validation error detected: Value at '${mistyped.key}' failed to satisfy constraint: Member must be of type ${mistyped.expected[0]}`);
      if (!Array.isArray(body.messages)) return bedrockError(400, "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null");
      const inference = body.inferenceConfig;
      if (isObject(inference)) {
        const audit = auditParams(inference, INFERENCE_PARAMS);
        if (audit.unknown.length > 0) return malformed(audit.unknown[0]!);
        if (audit.mistyped !== null) return bedrockError(400, `1 validation error detected: Value at 'inferenceConfig.${audit.mistyped.key}' failed to satisfy constraint: Member must be of type ${audit.mistyped.expected[0]}`);
      }
      if (Array.isArray(body.system)) {
        for (const block of body.system as unknown[]) if (!isObject(block) || Object.keys(block).length !== 1) return bedrockError(400, 'Each SystemContentBlock sets exactly one member.');
      }
      return checkMessages(body.messages) ?? (isObject(body.toolConfig) ? checkToolConfig(body.toolConfig) : null);
    },
    error(status, message, code) {
      if (code === 'context_length_exceeded') return bedrockError(400, 'Input is too long for requested model.');
      return code !== undefined && code.endsWith('Exception') ? bedrockError(status, message, code) : bedrockError(status, message);
    },
    limitError: (message) => bedrockError(429, message),
    // Bedrock reports no limits in headers, and sends no Retry-After with a ThrottlingException.
    limitHeaders: () => ({}),
    answer: (_endpoint, body, ctx) => converseAnswer(body, ctx, ctx.path.endsWith('/converse-stream')),
  };
}

/**
 * The mock's answers in Anthropic's Messages format. Deterministic like the OpenAI answers: input
 * tokens = ⌈characters of system and message text / 4⌉, one output token per text chunk (and one for
 * a tool call). Prompt caching: the text up to the last block marked `cache_control` is the cached
 * prefix; the first request with a prefix reports it as `cache_creation_input_tokens`, later ones as
 * `cache_read_input_tokens`, and `input_tokens` counts the rest, as the API does (its minimum
 * cacheable length is not modelled). With tools offered and no `tool_result` to answer, a `tool_use`
 * block follows the text (the tool `tool_choice` names, else the first), stop reason `tool_use`.
 */
import { NO_USAGE, tokensOfChars, type Answer, type AnswerContext, type Endpoint } from '../wire.js';

interface Block {
  readonly type?: unknown;
  readonly text?: unknown;
  readonly cache_control?: unknown;
}

interface Prompt {
  readonly inputTokens: number;
  readonly cacheCreationTokens: number;
  readonly cacheReadTokens: number;
}

/** The text blocks of `system` and every message, in order (a string content is one block). */
function blocksOf(body: Readonly<Record<string, unknown>>): Block[] {
  const blocks: Block[] = [];
  const add = (content: unknown): void => {
    if (typeof content === 'string') blocks.push({ type: 'text', text: content });
    else if (Array.isArray(content)) blocks.push(...(content as Block[]).filter((b) => typeof b === 'object' && b !== null));
  };
  add(body.system);
  if (Array.isArray(body.messages)) for (const m of body.messages as Array<{ content?: unknown }>) add(m?.content);
  return blocks;
}

function promptOf(body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Prompt {
  const blocks = blocksOf(body);
  const chars = (list: readonly Block[]) => list.reduce((n, b) => n + (typeof b.text === 'string' ? b.text.length : 0), 0);
  const total = tokensOfChars(chars(blocks));
  const last = blocks.findLastIndex((b) => b.cache_control != null);
  if (last < 0) return { inputTokens: total, cacheCreationTokens: 0, cacheReadTokens: 0 };
  const prefix = blocks.slice(0, last + 1);
  const cached = Math.ceil(chars(prefix) / 4);
  const seen = ctx.cacheSeen(`${String(body.model)}\u0000${JSON.stringify(prefix)}`);
  return { inputTokens: total - cached, cacheCreationTokens: seen ? 0 : cached, cacheReadTokens: seen ? cached : 0 };
}

interface ToolUse {
  readonly id: string;
  readonly name: string;
}

function toolUseFor(body: Readonly<Record<string, unknown>>, id: string): ToolUse | null {
  const tools = Array.isArray(body.tools) ? (body.tools as Array<{ name?: unknown }>) : [];
  const choice = body.tool_choice as { type?: unknown; name?: unknown } | undefined;
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
  const lastContent = messages.at(-1)?.content;
  const answersTool = Array.isArray(lastContent) && (lastContent as Block[]).some((b) => b?.type === 'tool_result');
  if (tools.length === 0 || choice?.type === 'none' || answersTool) return null;
  const name = choice?.type === 'tool' ? choice.name : tools[0]?.name;
  return typeof name === 'string' ? { id, name } : null;
}

const event = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

function messageAnswer(body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer {
  const b = ctx.behaviour;
  const id = `msg_mock_${ctx.instance}_${ctx.sequence}`;
  const model = typeof body.model === 'string' ? body.model : 'mock-model';
  const prompt = promptOf(body, ctx);
  const tool = toolUseFor(body, `toolu_mock_${ctx.instance}_${ctx.sequence}`);
  const outputTokens = b.chunks + (tool === null ? 0 : 1);
  const stopReason = tool === null ? 'end_turn' : 'tool_use';
  const promptUsage = { input_tokens: prompt.inputTokens, cache_creation_input_tokens: prompt.cacheCreationTokens, cache_read_input_tokens: prompt.cacheReadTokens };
  const reported = {
    promptTokens: prompt.inputTokens + prompt.cacheCreationTokens + prompt.cacheReadTokens,
    completionTokens: outputTokens,
    cacheReadTokens: prompt.cacheReadTokens,
    cacheCreationTokens: prompt.cacheCreationTokens,
  };
  const toolBlock = tool === null ? null : { type: 'tool_use', id: tool.id, name: tool.name, input: {} };

  if (body.stream !== true) {
    const text = Array.from({ length: b.chunks }, (_, i) => ctx.word(i)).join('');
    return {
      kind: 'json',
      usage: reported,
      reportsUsage: true,
      body: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }, ...(toolBlock === null ? [] : [toolBlock])],
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { ...promptUsage, output_tokens: outputTokens, service_tier: 'standard' },
      },
    };
  }
  const message = { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...promptUsage, output_tokens: 1 } };
  return {
    kind: 'stream',
    usage: reported,
    reportsUsage: true,
    script: {
      head: [
        event('message_start', { message }),
        event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        event('ping', {}),
      ],
      chunk: (i) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ctx.word(i) } }),
      tail: [
        event('content_block_stop', { index: 0 }),
        ...(toolBlock === null
          ? []
          : [
              event('content_block_start', { index: 1, content_block: toolBlock }),
              event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{}' } }),
              event('content_block_stop', { index: 1 }),
            ]),
        event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { ...promptUsage, output_tokens: outputTokens } }),
      ],
      end: event('message_stop', {}),
    },
  };
}

export function anthropicAnswer(endpoint: Endpoint, body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer {
  if (endpoint !== 'count_tokens') return messageAnswer(body, ctx);
  // Counting reads no cache: every prompt token counts.
  const prompt = promptOf(body, { ...ctx, cacheSeen: () => false });
  return { kind: 'json', usage: NO_USAGE, reportsUsage: false, body: { input_tokens: prompt.inputTokens + prompt.cacheCreationTokens } };
}

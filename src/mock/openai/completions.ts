/**
 * The mock's answers to OpenAI's legacy `POST /v1/completions`: `text_completion` objects, JSON or
 * SSE chunks of the same shape ending in `data: [DONE]`, with the usage chunk (`choices: []`) when
 * `stream_options.include_usage` is set and `"usage": null` in every other chunk then, as the chat
 * stream does. Deterministic like the chat answers: prompt tokens = ⌈characters / 4⌉ of every
 * prompt string plus one per token id; each choice gets `min(chunks, max_tokens)` tokens (default
 * 16) — `finish_reason` `length` when cut — and `n` choices per prompt, `best_of` candidates each
 * billed. `echo` puts the prompt before the text.
 */
import { tokensOfChars, type Answer, type AnswerContext } from '../wire.js';

/** OpenAI's default `max_tokens` for completions. */
const DEFAULT_MAX_TOKENS = 16;

/** The prompts of a request: strings, or token-id arrays (nothing to echo); none is one empty prompt. */
function promptsOf(prompt: unknown): Array<string | readonly number[]> {
  if (typeof prompt === 'string') return [prompt];
  if (!Array.isArray(prompt) || prompt.length === 0) return [''];
  if (typeof prompt[0] === 'number') return [prompt as number[]];
  return prompt as Array<string | number[]>;
}

export function completionsAnswer(body: Readonly<Record<string, unknown>>, ctx: AnswerContext): Answer {
  const id = `cmpl-mock-${ctx.instance}-${ctx.sequence}`;
  const model = typeof body.model === 'string' ? body.model : 'mock-model';
  const prompts = promptsOf(body.prompt);
  let chars = 0;
  let tokenIds = 0;
  for (const p of prompts) {
    if (typeof p === 'string') chars += p.length;
    else tokenIds += p.length;
  }
  const promptTokens = tokenIds + (chars > 0 || tokenIds === 0 ? tokensOfChars(chars) : 0);
  const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : DEFAULT_MAX_TOKENS;
  const tokensEach = Math.min(ctx.behaviour.chunks, maxTokens);
  const finishReason = tokensEach < ctx.behaviour.chunks ? 'length' : 'stop';
  const n = typeof body.n === 'number' ? body.n : 1;
  const candidates = typeof body.best_of === 'number' ? Math.max(n, body.best_of) : n;
  const completionTokens = prompts.length * candidates * tokensEach;
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const reported = { promptTokens, completionTokens };
  const echo = (p: string | readonly number[]): string => (body.echo === true && typeof p === 'string' ? p : '');
  // Choice i answers prompt ⌊i / n⌋, as OpenAI orders them.
  const choiceCount = prompts.length * n;
  const promptOf = (choice: number) => prompts[Math.floor(choice / n)]!;
  const choice = (index: number, text: string, finish: string | null) => ({ text, index, logprobs: null, finish_reason: finish });

  if (body.stream !== true) {
    const text = Array.from({ length: tokensEach }, (_, i) => ctx.word(i)).join('');
    const choices = Array.from({ length: choiceCount }, (_, i) => choice(i, echo(promptOf(i)) + text, finishReason));
    return { kind: 'json', usage: reported, reportsUsage: true, body: { id, object: 'text_completion', created: ctx.createdSec, model, choices, usage, system_fingerprint: null } };
  }
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const frame = (choices: unknown[], chunkUsage?: unknown): string => {
    const chunk: Record<string, unknown> = { id, object: 'text_completion', created: ctx.createdSec, model, system_fingerprint: null, choices };
    if (includeUsage) chunk.usage = chunkUsage ?? null;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  };
  // One event per choice and token; the first token of an echoing choice carries its prompt.
  const each = (text: (i: number) => string, finish: string | null): string =>
    Array.from({ length: choiceCount }, (_, i) => frame([choice(i, text(i), finish)])).join('');
  return {
    kind: 'stream',
    usage: reported,
    reportsUsage: includeUsage,
    script: {
      head: body.echo === true ? [each((i) => echo(promptOf(i)), null)] : [],
      chunk: (k) => (k < tokensEach ? each(() => ctx.word(k), null) : ''),
      tail: [each(() => '', finishReason), ...(includeUsage ? [frame([], usage)] : [])],
      end: 'data: [DONE]\n\n',
    },
  };
}

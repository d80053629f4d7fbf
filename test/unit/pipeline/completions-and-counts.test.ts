/**
 * The legacy text-completions body and Anthropic's count_tokens body as the router reads them:
 * what each accepts and refuses (with OpenAI's or Anthropic's wording), and what routing then
 * knows of it — the prompt it measures, the completions it may generate.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { RouterError } from '../../../src/errors.js';
import { parseCompletionsRequest, parseCountTokensRequest } from '../../../src/pipeline/api-request.js';
import { AnthropicRefusal } from '../../../src/providers/anthropic/inbound/errors.js';
import { COMPLETIONS_DEFAULT_MAX_TOKENS, routeRequestOf } from '../../../src/routing/features.js';
import { loadTokenizer, TOKENS_PER_IMAGE, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from '../../../src/routing/tokens.js';
import { config, counted } from '../../support/fixtures.js';

const completions = (fields: Record<string, unknown>) => parseCompletionsRequest(JSON.stringify({ model: 'instruct', ...fields }));
const count = (fields: Record<string, unknown>) => parseCountTokensRequest(JSON.stringify({ model: 'claude', ...fields }));

function refusal(parse: () => unknown): { code: string; param: string | null; message: string } | null {
  try {
    parse();
    return null;
  } catch (err) {
    if (!(err instanceof RouterError)) throw err;
    return { code: err.code, param: err.param, message: err.message };
  }
}

function anthropicRefusal(parse: () => unknown): { status: number; type: string; message: string } | null {
  try {
    parse();
    return null;
  } catch (err) {
    if (!(err instanceof AnthropicRefusal)) throw err;
    return { status: err.status, type: err.type, message: err.message };
  }
}

describe('parseCompletionsRequest', () => {
  it.each<[string, unknown]>([
    ['a string', 'Say this is a test'],
    ['an array of strings', ['one', 'two']],
    ['token ids', [1, 2, 3]],
    ['arrays of token ids', [[1, 2], [3]]],
    ['null (a new document)', null],
    ['an empty string', ''],
  ])('accepts a prompt that is %s', (_, prompt) => {
    expect(completions({ prompt })).toMatchObject({ endpoint: 'completions', api: 'openai', model: 'instruct', stream: false });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no prompt', {}, 'prompt'],
    ['an empty array', { prompt: [] }, 'prompt'],
    ['strings and token ids mixed', { prompt: ['a', 1] }, 'prompt'],
    ['a fractional token id', { prompt: [1.5] }, 'prompt'],
    ['an object', { prompt: { text: 'a' } }, 'prompt'],
    ['a negative max_tokens', { prompt: 'a', max_tokens: -1 }, 'max_tokens'],
    ['n above 128', { prompt: 'a', n: 129 }, 'n'],
    ['best_of above 20', { prompt: 'a', best_of: 21 }, 'best_of'],
    ['best_of below n', { prompt: 'a', n: 3, best_of: 2 }, 'best_of'],
    ['stream as a string', { prompt: 'a', stream: 'yes' }, 'stream'],
    ['stream_options as a string', { prompt: 'a', stream: true, stream_options: 'usage' }, 'stream_options'],
  ])("refuses %s with OpenAI's 400 naming the parameter", (_, fields, param) => {
    expect(refusal(() => completions(fields))).toMatchObject({ code: 'invalid_request', param });
  });

  it('refuses a body without a model, as every endpoint does', () => {
    expect(refusal(() => parseCompletionsRequest(JSON.stringify({ prompt: 'a' })))).toMatchObject({ param: 'model', message: "Missing required parameter: 'model'." });
  });

  it('accepts max_tokens 0 (echo with logprobs reads the prompt alone)', () => {
    expect(completions({ prompt: 'a', max_tokens: 0, echo: true, logprobs: 1 }).body.max_tokens).toBe(0);
  });

  it('reads streaming and whether the client asked for the usage chunk', () => {
    expect(completions({ prompt: 'a', stream: true })).toMatchObject({ stream: true, clientWantsUsage: false });
    expect(completions({ prompt: 'a', stream: true, stream_options: { include_usage: true } })).toMatchObject({ stream: true, clientWantsUsage: true });
  });

  it("finds the router's own fields, to be removed before the body goes upstream", () => {
    expect(completions({ prompt: 'a', tags: ['team-a'] }).routerFields).toBe(true);
    expect(completions({ prompt: 'a', suffix: '.' }).routerFields).toBe(false);
  });
});

describe('a completions request as routing sees it', () => {
  const features = (fields: Record<string, unknown>) => {
    const req = completions(fields);
    return routeRequestOf(req.body, {}, config().routing, null, req.endpoint);
  };

  it("needs the completions capability (and streaming when it streams), not chat's", () => {
    expect([...features({ prompt: 'a' }).needs]).toEqual(['completions']);
    expect([...features({ prompt: 'a', stream: true }).needs].sort()).toEqual(['completions', 'streaming']);
  });

  it(`bounds each completion by max_tokens, or by OpenAI's default of ${COMPLETIONS_DEFAULT_MAX_TOKENS} when unset`, () => {
    expect(features({ prompt: 'a' }).maxTokens).toBe(COMPLETIONS_DEFAULT_MAX_TOKENS);
    expect(features({ prompt: 'a', max_tokens: null }).maxTokens).toBe(COMPLETIONS_DEFAULT_MAX_TOKENS);
    expect(features({ prompt: 'a', max_tokens: 300 }).maxTokens).toBe(300);
  });

  it('counts every completion generated: n per prompt of a batch, or best_of candidates when more', () => {
    expect(features({ prompt: 'a' }).choices).toBe(1);
    expect(features({ prompt: 'a', n: 3 }).choices).toBe(3);
    expect(features({ prompt: 'a', n: 2, best_of: 5 }).choices).toBe(5);
    expect(features({ prompt: ['a', 'b', 'c'], n: 2 }).choices).toBe(6);
    expect(features({ prompt: [1, 2, 3], n: 2 }).choices).toBe(2);
    expect(features({ prompt: [[1], [2]], best_of: 3 }).choices).toBe(6);
  });

  it('measures the prompt: its strings in bytes, token ids one each; no chat framing', () => {
    expect(features({ prompt: 'héllo' }).promptTokensBound).toBe(6);
    expect(features({ prompt: ['ab', 'cd'] }).promptTokensBound).toBe(4);
    expect(features({ prompt: [[1, 2], [3]] }).promptTokensBound).toBe(3);
    expect(features({ prompt: null }).promptTokensBound).toBe(0);
    expect(features({ prompt: ['first', 'last words'] }).lastUserText).toBe('last words');
  });
});

describe('parseCountTokensRequest', () => {
  const messages = [{ role: 'user', content: 'Hello, Claude' }];

  it("accepts what Anthropic's count_tokens accepts: no max_tokens, system and tools", () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' } }];
    expect(count({ messages, system: 'Be brief.', tools })).toMatchObject({ endpoint: 'count_tokens', api: 'anthropic', model: 'claude', stream: false, disableFallbacks: true });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['max_tokens (a Messages field count_tokens lacks)', { messages, max_tokens: 10 }, 'max_tokens: Extra inputs are not permitted'],
    ['stream', { messages, stream: true }, 'stream: Extra inputs are not permitted'],
    ['no messages', {}, 'messages: Field required'],
    ['no message', { messages: [] }, 'messages: at least one message is required'],
    ['a role Anthropic lacks', { messages: [{ role: 'system', content: 'x' }] }, "messages.0.role: Input should be 'user' or 'assistant'"],
    ['system as a number', { messages, system: 1 }, 'system: Input should be a valid string'],
  ])("refuses %s with Anthropic's 400", (_, fields, message) => {
    expect(anthropicRefusal(() => count(fields))).toEqual({ status: 400, type: 'invalid_request_error', message });
  });

  it("allows the router's own fields, as /v1/messages does", () => {
    expect(count({ messages, tags: ['team-a'] }).routerFields).toBe(true);
  });

  it('counts what the model reads: the system prompt, text, tool calls and results, thinking, tools; images at the image rate', async () => {
    await loadTokenizer();
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    const req = count({
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'Call the tool.', signature: 's' }, { type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: '18°C' }] }] },
      ],
      tools,
    });
    const features = routeRequestOf(req.body, {}, config().routing, null, req.endpoint);
    const texts = ['You are terse.', 'Weather in Paris?', 'Call the tool.\nget_weather {"city":"Paris"}', '18°C', JSON.stringify(tools)];
    const expected = texts.reduce((n, t) => n + countTokens(t), 0) + 4 * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY + TOKENS_PER_IMAGE;
    expect(counted(features).promptTokensCounted).toBe(expected);
  });
});

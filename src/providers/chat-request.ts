/**
 * Readers of an OpenAI chat-completions request's fields, for the translators that build another
 * provider's body from it (anthropic/request.ts, gemini/request.ts): each value is checked as OpenAI
 * checks it, and a bad one is a 400 naming the parameter, so every provider refuses alike.
 */
import { RouterError } from '../errors.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export const invalid = (param: string, why: string): RouterError => new RouterError('invalid_request', `Invalid '${param}': ${why}.`, param);

/** A refusal for a parameter whose effect `api` cannot give; `qualifier` narrows it ("above 1"), `hint` says what to use instead. */
export type Unsupported = (param: string, qualifier?: string, hint?: string) => RouterError;

export const unsupportedBy =
  (api: string): Unsupported =>
  (param, qualifier = '', hint = '') =>
    new RouterError(
      'unsupported_parameter',
      `Unsupported parameter: '${param}'${qualifier === '' ? '' : ` ${qualifier}`} is not supported with this model (served by ${api})${hint === '' ? '' : `; ${hint}`}.`,
      param,
    );

/** `max_completion_tokens`, else `max_tokens`, else `fallback`. */
export function maxTokensOf<T extends number | null>(body: Json, fallback: T): number | T {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[field];
    if (!isSet(v)) continue;
    if (!Number.isInteger(v) || (v as number) <= 0) throw invalid(field, 'expected a positive integer');
    return v as number;
  }
  return fallback;
}

export function numberOf(body: Json, field: string, min: number, max: number): number | null {
  const v = body[field];
  if (!isSet(v)) return null;
  if (typeof v !== 'number' || !(v >= min && v <= max)) throw invalid(field, `expected a number from ${min} to ${max}`);
  return v;
}

/** An integer of at least `min` (-Infinity: any). */
export function integerOf(body: Json, field: string, min: number): number | null {
  const v = body[field];
  if (!isSet(v)) return null;
  if (!Number.isInteger(v) || (v as number) < min) {
    throw invalid(field, min === 0 ? 'expected a non-negative integer' : min === -Infinity ? 'expected an integer' : `expected an integer of at least ${min}`);
  }
  return v as number;
}

/** `stop` as a list; null when absent or empty. */
export function stopSequencesOf(stop: unknown): string[] | null {
  if (!isSet(stop)) return null;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw invalid('stop', 'expected a string or an array of strings');
  return list.length === 0 ? null : (list as string[]);
}

/** Calls `add` with each non-empty text of a string or an array of text parts (a client's array may be too long to spread). */
export function forEachText(content: unknown, at: string, add: (text: string) => void): void {
  if (typeof content === 'string') {
    if (content !== '') add(content);
    return;
  }
  if (!Array.isArray(content)) throw invalid(at, 'expected a string or an array of text parts');
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') throw invalid(`${at}[${j}]`, 'expected a text part');
    if (part.text !== '') add(part.text);
  }
}

/** The media type (lower case) and base64 data of a `data:<type>;base64,<data>` URL; null when `url` is not a data: URL. */
export function dataUrlOf(url: string, at: string): { mediaType: string; data: string } | null {
  if (!url.startsWith('data:')) return null;
  // Only the header is searched: the data itself can be megabytes.
  const marker = url.indexOf(';base64,', 0);
  const mediaType = marker === -1 ? '' : url.slice(5, marker).toLowerCase();
  if (marker === -1 || mediaType.includes(',')) throw invalid(at, 'expected a base64 data: URL (data:<type>;base64,<data>)');
  return { mediaType, data: url.slice(marker + 8) };
}

/** An assistant tool call's `function.arguments` (a JSON string) as the object it encodes. */
export function toolArgumentsOf(args: unknown, at: string): Json {
  if (typeof args !== 'string') throw invalid(at, 'expected a JSON string');
  // Some clients send no arguments at all for a tool without parameters.
  if (args.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    throw invalid(at, 'not valid JSON');
  }
  if (!isObject(input)) throw invalid(at, 'expected a JSON object');
  return input;
}

/** The `function` of an OpenAI function tool (`tools[i]`), checked; other tool types are `unsupported`. */
export function functionToolOf(tool: unknown, at: string, unsupported: Unsupported): { name: string; description?: string; parameters?: Json; strict?: boolean } {
  if (!isObject(tool)) throw invalid(at, 'expected an object');
  if (tool.type !== 'function') throw unsupported(`${at}.type`, `'${String(tool.type)}'`, 'use function tools');
  const fn = tool.function;
  if (!isObject(fn) || typeof fn.name !== 'string') throw invalid(`${at}.function.name`, 'expected a string');
  if (isSet(fn.parameters) && !isObject(fn.parameters)) throw invalid(`${at}.function.parameters`, 'expected a JSON schema object');
  return {
    name: fn.name,
    ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
    ...(isObject(fn.parameters) ? { parameters: fn.parameters } : {}),
    ...(typeof fn.strict === 'boolean' ? { strict: fn.strict } : {}),
  };
}

/** `response_format`: null for text, `{}` for JSON mode, `{ schema }` for a JSON schema. */
export function responseFormatOf(format: unknown): { schema?: Json } | null {
  if (!isSet(format)) return null;
  if (!isObject(format)) throw invalid('response_format', 'expected an object');
  if (format.type === 'text') return null;
  if (format.type === 'json_object') return {};
  if (format.type !== 'json_schema') throw invalid('response_format.type', "expected 'text', 'json_object' or 'json_schema'");
  const schema = isObject(format.json_schema) ? format.json_schema.schema : undefined;
  if (!isObject(schema)) throw invalid('response_format.json_schema.schema', 'expected a JSON schema object');
  return { schema };
}

/** Calls `add` with each non-empty text an assistant message's `content` holds; a refusal part is what it said, so it stays as text. */
export function forEachAssistantText(content: unknown, at: string, add: (text: string) => void): void {
  if (!Array.isArray(content)) {
    if (isSet(content)) forEachText(content, at, add);
    return;
  }
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    const text = isObject(part) ? (part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined) : undefined;
    if (typeof text !== 'string') throw invalid(`${at}[${j}]`, 'expected a text or refusal part');
    if (text !== '') add(text);
  }
}

/** Calls `add` with each of an assistant message's `tool_calls` (`calls`), checked, arguments parsed. */
export function forEachToolCall(calls: unknown, at: string, unsupported: Unsupported, add: (id: string, name: string, args: Json) => void): void {
  if (!isSet(calls)) return;
  if (!Array.isArray(calls)) throw invalid(at, 'expected an array');
  for (let j = 0; j < calls.length; j++) {
    const call: unknown = calls[j];
    const callAt = `${at}[${j}]`;
    if (!isObject(call) || typeof call.id !== 'string') throw invalid(`${callAt}.id`, 'expected a string');
    if (call.type !== 'function') throw unsupported(`${callAt}.type`, `'${String(call.type)}'`, 'use function tools');
    const fn = call.function;
    if (!isObject(fn) || typeof fn.name !== 'string') throw invalid(`${callAt}.function.name`, 'expected a string');
    add(call.id, fn.name, toolArgumentsOf(fn.arguments, `${callAt}.function.arguments`));
  }
}

/** Refuses what only OpenAI's own models give, when set to anything but its default: log probabilities, audio, the deprecated functions API, logit bias, web search. */
export function refuseOpenAiOnly(body: Json, unsupported: Unsupported): void {
  if (body.logprobs === true) throw unsupported('logprobs');
  if (isSet(body.top_logprobs)) throw unsupported('top_logprobs');
  if (isSet(body.audio)) throw unsupported('audio');
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) throw unsupported('modalities', "with 'audio'");
  if (isSet(body.functions)) throw unsupported('functions', '', "use 'tools'");
  if (isSet(body.function_call)) throw unsupported('function_call', '', "use 'tool_choice'");
  if (isObject(body.logit_bias) && Object.keys(body.logit_bias).length > 0) throw unsupported('logit_bias');
  if (isSet(body.web_search_options)) throw unsupported('web_search_options');
}

/** What a translation does with each message; `at` names it in errors (`messages[i]`). */
export interface MessageReaders {
  /** Each non-empty text of a system or developer message, in order. */
  readonly system: (text: string) => void;
  readonly user: (m: Json, at: string) => void;
  /** An assistant message, its deprecated `function_call` and `audio` already refused. */
  readonly assistant: (m: Json, at: string) => void;
  readonly tool: (m: Json, at: string) => void;
}

/** Reads the OpenAI `messages` in order, each checked to be a message of a known role; `function` messages are `unsupported`. */
export function readMessages(messages: unknown, unsupported: Unsupported, readers: MessageReaders): void {
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('messages', 'expected a non-empty array');
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    const at = `messages[${i}]`;
    if (!isObject(m)) throw invalid(at, 'expected an object');
    switch (m.role) {
      case 'system':
      case 'developer':
        forEachText(m.content, `${at}.content`, readers.system);
        break;
      case 'user':
        readers.user(m, at);
        break;
      case 'assistant':
        if (isSet(m.function_call)) throw unsupported(`${at}.function_call`, '', "use 'tool_calls'");
        if (isSet(m.audio)) throw unsupported(`${at}.audio`);
        readers.assistant(m, at);
        break;
      case 'tool':
        readers.tool(m, at);
        break;
      case 'function':
        throw unsupported(`${at}.role`, "'function'", "use 'tool' messages");
      default:
        throw invalid(`${at}.role`, "expected 'system', 'developer', 'user', 'assistant' or 'tool'");
    }
  }
}

/** The refusal of `messages` that gave no turn: only system prompts, or only empty messages. */
export const noTurns = (): RouterError => invalid('messages', 'no message has any content besides the system prompt');

/** `tool_choice` checked: null when absent, a mode, or the one function the model must call; other tool types are `unsupported`. */
export function toolChoiceOf(choice: unknown, unsupported: Unsupported): 'none' | 'auto' | 'required' | { name: string } | null {
  if (!isSet(choice)) return null;
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') return { name: choice.function.name };
  if (isObject(choice) && typeof choice.type === 'string' && choice.type !== 'function') throw unsupported('tool_choice', `of type '${choice.type}'`);
  throw invalid('tool_choice', "expected 'none', 'auto', 'required' or a named function");
}

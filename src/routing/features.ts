/**
 * What a chat-completions, text-completions, embeddings or token-count request means for routing, read once from its parsed body
 * and headers: capabilities it needs, its size in tokens (exact only when asked), tags, tier,
 * preference and the text the classifier reads. Pure: the same body and headers give the same features.
 */
import type { BalancePreset, Capability, RoutingSettings } from '../config/compile.js';
import { BALANCE_PRESETS } from '../config/schema.js';
import { RouterError } from '../errors.js';
import { promptTokensBound, type PromptText } from './tokens.js';
import type { Endpoint, RouteRequest } from './types.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Scan extends PromptText {
  readonly lastUserText: string;
}

/** One pass over the messages: their text, image parts and the last user message. */
function scanMessages(messages: readonly unknown[], tools: unknown): Scan {
  const parts: string[] = [];
  let bytes = 0;
  let images = 0;
  let lastUserText = '';
  for (const m of messages) {
    if (!isObject(m)) continue;
    const content = m.content;
    let text = '';
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (!isObject(part)) continue;
        if (part.type === 'text' && typeof part.text === 'string') text += (text === '' ? '' : '\n') + part.text;
        else if (part.type === 'image_url' || part.type === 'input_image' || part.type === 'image') images += 1;
      }
    }
    if (text !== '') {
      parts.push(text);
      bytes += Buffer.byteLength(text, 'utf8');
    }
    if (m.role === 'user') lastUserText = text;
  }
  if (Array.isArray(tools) && tools.length > 0) {
    const json = JSON.stringify(tools);
    parts.push(json);
    bytes += Buffer.byteLength(json, 'utf8');
  }
  return { parts, bytes, messages: messages.length, images, lastUserText, tokenIds: 0 };
}

/** An embeddings `input` or a completions `prompt`, as api-request.ts admitted it: texts, token ids, or arrays of either. */
function scanInput(input: unknown): Scan {
  const parts: string[] = [];
  let bytes = 0;
  let tokenIds = 0;
  const add = (item: unknown): void => {
    if (typeof item === 'string') {
      parts.push(item);
      bytes += Buffer.byteLength(item, 'utf8');
    } else if (Array.isArray(item)) tokenIds += item.length;
  };
  if (Array.isArray(input) && input.every((i) => typeof i === 'number')) tokenIds = input.length;
  else if (Array.isArray(input)) input.forEach(add);
  else add(input);
  return { parts, bytes, messages: 0, images: 0, lastUserText: parts.at(-1) ?? '', tokenIds };
}

const NO_TAGS: readonly string[] = [];

/** What a text completion may generate when `max_tokens` is unset: OpenAI's default (and vLLM's). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** The tokens each choice may generate, when bounded: none for an embedding, 16 for a completion that sets none. */
function maxTokensOf(body: Record<string, unknown>, endpoint: Endpoint): number | null {
  if (endpoint === 'embeddings') return 0;
  if (endpoint === 'completions') return typeof body.max_tokens === 'number' ? body.max_tokens : COMPLETIONS_DEFAULT_MAX_TOKENS;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return typeof maxTokens === 'number' ? maxTokens : null;
}

/**
 * The completions generated: `n`; for text completions, `n` per prompt of a batch, or `best_of`
 * candidates per prompt when more (each is billed).
 */
function choicesOf(body: Record<string, unknown>, endpoint: Endpoint): number {
  if (endpoint === 'embeddings') return 1;
  const n = typeof body.n === 'number' ? body.n : 1;
  if (endpoint !== 'completions') return n;
  const prompt = body.prompt;
  const prompts = Array.isArray(prompt) && typeof prompt[0] !== 'number' ? prompt.length : 1;
  return prompts * (typeof body.best_of === 'number' ? Math.max(n, body.best_of) : n);
}

/**
 * The tags the request sends itself — body `tags`, `metadata.tags`, the tags header — deduplicated.
 * Each list is measured before it is read, so a client cannot make the router iterate, compare or
 * store more than `policy.max` tags of `policy.maxLength` characters: over either, 400.
 */
function tagsOf(body: Record<string, unknown>, metadata: Record<string, unknown>, headers: Readonly<Record<string, string>>, settings: RoutingSettings): readonly string[] {
  const header = headers[settings.tagsHeader];
  if (!Array.isArray(body.tags) && !Array.isArray(metadata.tags) && header === undefined) return NO_TAGS;
  const policy = settings.tags;
  const out = new Set<string>();
  const tooMany = (param: string) =>
    new RouterError('invalid_request', `Too many tags: at most ${policy.max} per request (body 'tags', 'metadata.tags' and the ${settings.tagsHeader} header together).`, param);
  const read = (list: readonly unknown[], param: string) => {
    if (list.length > policy.max) throw tooMany(param);
    for (const v of list) {
      if (typeof v !== 'string') continue;
      const tag = v.trim();
      if (tag.length === 0) continue;
      if (tag.length > policy.maxLength) throw new RouterError('invalid_request', `Invalid tag in '${param}': ${tag.length} characters; the limit is ${policy.maxLength}.`, param);
      out.add(tag);
    }
    if (out.size > policy.max) throw tooMany(param);
  };
  if (Array.isArray(body.tags)) read(body.tags, 'tags');
  if (Array.isArray(metadata.tags)) read(metadata.tags, 'metadata.tags');
  // split's limit keeps a header of thousands of commas from becoming thousands of strings.
  if (header !== undefined) read(header.split(',', policy.max + 1), settings.tagsHeader);
  return [...out];
}

/**
 * A tag with a budget spends that budget: a key may send it only when it is one of its own tags or
 * in its `allowed_tags`, else 403 (never silently dropped: the caller would think it was counted).
 */
function checkBudgetedTags(tags: readonly string[], caller: Caller, policy: RoutingSettings['tags']): void {
  for (const t of tags) {
    if (policy.budgeted.has(t) && !caller.tags.includes(t) && !caller.allowedTags.has(t)) {
      throw new RouterError('tag_not_allowed', `The API key '${caller.name}' may not use the tag '${t}': it has a budget the key is not allowed to spend.`, 'tags');
    }
  }
}

/** A requested preset the caller's key does not allow is ignored: the group's weights apply. */
function allowed(preset: BalancePreset | null, caller: Caller | null): BalancePreset | null {
  return preset === null || caller?.preferences == null || caller.preferences.has(preset) ? preset : null;
}

function presetOf(v: unknown): BalancePreset | null {
  return typeof v === 'string' && (BALANCE_PRESETS as readonly string[]).includes(v) ? (v as BalancePreset) : null;
}

/**
 * What the caller's virtual key adds: its tags, its tier (which then replaces any tier header), the
 * presets it may pick, the budgeted tags it may send, and the models that bound its fallbacks.
 */
export interface Caller {
  readonly name: string;
  readonly tags: readonly string[];
  readonly tier: string | null;
  /** null: any preset. */
  readonly preferences: ReadonlySet<BalancePreset> | null;
  readonly allowedTags: ReadonlySet<string>;
  /** null: any model. */
  readonly models: ReadonlySet<string> | null;
  readonly fallbacksBeyondModels: boolean;
}

/**
 * `body` has passed parseChatRequest or parseCountTokensRequest (`messages` a non-empty array) or,
 * for `endpoint` embeddings or completions, parseEmbeddingsRequest (`input` valid) or
 * parseCompletionsRequest (`prompt` valid); `model` is a string. `caller` is the virtual key, when keys are on.
 */
export function routeRequestOf(
  body: Record<string, unknown>,
  headers: Readonly<Record<string, string>>,
  settings: RoutingSettings,
  caller: Caller | null = null,
  endpoint: Endpoint = 'chat',
): RouteRequest {
  const scan = endpoint === 'embeddings' ? scanInput(body.input) : endpoint === 'completions' ? scanInput(body.prompt) : scanMessages(body.messages as unknown[], body.tools);
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const needs = new Set<Capability>([endpoint === 'embeddings' || endpoint === 'completions' ? endpoint : 'chat']);
  if (body.stream === true) needs.add('streaming');
  if (scan.images > 0) needs.add('vision');
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools) needs.add('tools');
  if (isObject(body.response_format) && body.response_format.type !== 'text') needs.add('json');
  const requestTags = tagsOf(body, metadata, headers, settings);
  if (caller !== null) checkBudgetedTags(requestTags, caller, settings.tags);
  const tags = caller === null || caller.tags.length === 0 ? requestTags : [...new Set([...requestTags, ...caller.tags])];
  return {
    model: body.model as string,
    stream: body.stream === true,
    needs,
    promptTokensBound: promptTokensBound(scan),
    prompt: scan,
    promptTokensCounted: null,
    // An embedding has no completion: nothing to reserve beyond the input.
    maxTokens: maxTokensOf(body, endpoint),
    choices: choicesOf(body, endpoint),
    tags,
    // Only tags the config knows get usage totals: each distinct tag is an aggregate kept for good.
    countedTags: tags.length === 0 ? NO_TAGS : tags.filter((t) => settings.tags.known.has(t) || (caller?.tags.includes(t) ?? false)),
    allowedModels: caller === null || caller.fallbacksBeyondModels ? null : caller.models,
    tier: caller === null ? (headers[settings.tierHeader] ?? settings.defaultTier) : (caller.tier ?? settings.defaultTier),
    preference: allowed(presetOf(headers[settings.preferenceHeader] ?? metadata.route_preference), caller),
    metadata,
    lastUserText: scan.lastUserText,
    hasImage: scan.images > 0,
    hasTools,
  };
}

/**
 * What a chat-completions or embeddings request means for routing, read once from its parsed body
 * and headers: capabilities it needs, its size in tokens (exact only when asked), tags, tier,
 * preference and the text the classifier reads. Pure: the same body and headers give the same features.
 */
import type { BalancePreset, Capability, RoutingSettings } from '../config/compile.js';
import { BALANCE_PRESETS } from '../config/schema.js';
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

/** An embeddings `input`, as parseEmbeddingsRequest admitted it: texts, token ids, or arrays of either. */
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

function tagsOf(body: Record<string, unknown>, metadata: Record<string, unknown>, header: string | undefined): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.length > 0 && !out.includes(v)) out.push(v);
  };
  if (Array.isArray(body.tags)) body.tags.forEach(add);
  if (Array.isArray(metadata.tags)) metadata.tags.forEach(add);
  if (header !== undefined) header.split(',').forEach((t) => add(t.trim()));
  return out;
}

/** A requested preset the caller's key does not allow is ignored: the group's weights apply. */
function allowed(preset: BalancePreset | null, caller: Caller | null): BalancePreset | null {
  return preset === null || caller?.preferences == null || caller.preferences.has(preset) ? preset : null;
}

function presetOf(v: unknown): BalancePreset | null {
  return typeof v === 'string' && (BALANCE_PRESETS as readonly string[]).includes(v) ? (v as BalancePreset) : null;
}

/** What the caller's virtual key adds: its tags, its tier (which then replaces any tier header), and the presets it may pick. */
export interface Caller {
  readonly tags: readonly string[];
  readonly tier: string | null;
  /** null: any preset. */
  readonly preferences: ReadonlySet<BalancePreset> | null;
}

/**
 * `body` has passed parseChatRequest (`messages` a non-empty array) or, for `endpoint` embeddings,
 * parseEmbeddingsRequest (`input` valid); `model` is a string. `caller` is the virtual key, when keys are on.
 */
export function routeRequestOf(
  body: Record<string, unknown>,
  headers: Readonly<Record<string, string>>,
  settings: RoutingSettings,
  caller: Caller | null = null,
  endpoint: Endpoint = 'chat',
): RouteRequest {
  const embeddings = endpoint === 'embeddings';
  const scan = embeddings ? scanInput(body.input) : scanMessages(body.messages as unknown[], body.tools);
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const needs = new Set<Capability>([embeddings ? 'embeddings' : 'chat']);
  if (body.stream === true) needs.add('streaming');
  if (scan.images > 0) needs.add('vision');
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools) needs.add('tools');
  if (isObject(body.response_format) && body.response_format.type !== 'text') needs.add('json');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const requestTags = tagsOf(body, metadata, headers[settings.tagsHeader]);
  return {
    model: body.model as string,
    stream: body.stream === true,
    needs,
    promptTokensBound: promptTokensBound(scan),
    prompt: scan,
    promptTokensCounted: null,
    // An embedding has no completion: nothing to reserve beyond the input.
    maxTokens: embeddings ? 0 : typeof maxTokens === 'number' ? maxTokens : null,
    choices: !embeddings && typeof body.n === 'number' ? body.n : 1,
    tags: caller === null || caller.tags.length === 0 ? requestTags : [...new Set([...requestTags, ...caller.tags])],
    tier: caller === null ? (headers[settings.tierHeader] ?? settings.defaultTier) : (caller.tier ?? settings.defaultTier),
    preference: allowed(presetOf(headers[settings.preferenceHeader] ?? metadata.route_preference), caller),
    metadata,
    lastUserText: scan.lastUserText,
    hasImage: scan.images > 0,
    hasTools,
  };
}

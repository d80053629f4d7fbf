/**
 * An OpenAI chat-completions request, translated into a Gemini `generateContent` request (shapes
 * from Google's REST reference and the `@google/genai` types: `GenerateContentParameters`,
 * `Content`, `Part`, `GenerationConfig`, `FunctionDeclaration`, `ToolConfig`). The body is built
 * from the fields this module knows, so nothing else reaches Google: the router's own fields and
 * OpenAI-only hints (dropped), and anything Gemini would refuse. A parameter whose effect Gemini
 * cannot give is refused with a 400 `unsupported_parameter` naming it. The model is not in the
 * body (it is in the path, endpoint.ts), nor is `stream` (the path again). Serialised once.
 *
 *   system / developer messages   → `systemInstruction` text parts, in order, wherever they stood
 *   user text, image, audio, file → text / `inlineData` (a data: URL) / `fileData` (an http(s) URL)
 *   assistant content, tool_calls → a `model` turn: text parts, then `functionCall` parts
 *   tool messages                 → `functionResponse` parts in a `user` turn, named after the call
 *                                   their `tool_call_id` answers (Gemini matches results by name)
 *   consecutive same-role turns   → one turn
 *   tools / tool_choice           → one tool of `functionDeclarations` (JSON Schema as
 *                                   `parametersJsonSchema`); auto / none / required / named →
 *                                   `toolConfig.functionCallingConfig` AUTO / NONE / ANY / ANY + allowedFunctionNames
 *   max_completion_tokens / max_tokens, temperature, top_p, top_k, stop, n, seed,
 *   presence_penalty, frequency_penalty → `generationConfig` maxOutputTokens, temperature, topP,
 *                                   topK, stopSequences, candidateCount, seed, presencePenalty, frequencyPenalty
 *   response_format json_object   → responseMimeType application/json
 *   response_format json_schema   → the same, with `responseJsonSchema`
 *
 * JSON Schema goes in `parametersJsonSchema` / `responseJsonSchema` rather than `parameters` /
 * `responseSchema`: those take an OpenAPI subset that refuses what OpenAI's strict mode requires
 * (`additionalProperties: false`) and `$ref`s, so a schema that works on OpenAI would fail here.
 */
import {
  dataUrlOf,
  forEachAssistantText,
  forEachText,
  forEachToolCall,
  functionToolOf,
  integerOf,
  invalid,
  isObject,
  isSet,
  maxTokensOf,
  noTurns,
  numberOf,
  readMessages,
  refuseOpenAiOnly,
  responseFormatOf,
  stopSequencesOf,
  toolChoiceOf,
  unsupportedBy,
  type Json,
} from '../chat-request.js';

const unsupported = unsupportedBy("Google's Gemini API");

interface Turn {
  readonly role: 'user' | 'model';
  readonly parts: Json[];
}

/** Media types a URL's file extension names, for `fileData` (Gemini reads the type from it). */
const TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  pdf: 'application/pdf',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
};

/** OpenAI's `input_audio.format` values as media types. */
const AUDIO_TYPES: Readonly<Record<string, string>> = { wav: 'audio/wav', mp3: 'audio/mp3' };

/** The Gemini request body for the OpenAI chat-completions `body`; throws a RouterError for what cannot be sent. */
export function fromOpenAiRequest(body: Json): Buffer {
  refuseUntranslatable(body);
  const { system, contents } = conversationOf(body.messages);
  const out: Json = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system };
  const tools = toolsOf(body.tools);
  if (tools !== null) out.tools = tools;
  const toolConfig = toolConfigOf(body.tool_choice);
  if (toolConfig !== null) out.toolConfig = toolConfig;
  const generationConfig = generationConfigOf(body);
  if (generationConfig !== null) out.generationConfig = generationConfig;
  return Buffer.from(JSON.stringify(out));
}

/** Parameters whose effect Gemini cannot give, when set to anything but their default. */
function refuseUntranslatable(body: Json): void {
  refuseOpenAiOnly(body, unsupported);
  // Gemini may answer with several calls at once and has no switch against it.
  if (body.parallel_tool_calls === false) throw unsupported('parallel_tool_calls', 'false');
}

function generationConfigOf(body: Json): Json | null {
  const config: Json = {};
  const maxTokens = maxTokensOf(body, null);
  if (maxTokens !== null) config.maxOutputTokens = maxTokens;
  const temperature = numberOf(body, 'temperature', 0, 2);
  if (temperature !== null) config.temperature = temperature;
  const topP = numberOf(body, 'top_p', 0, 1);
  if (topP !== null) config.topP = topP;
  const topK = integerOf(body, 'top_k', 1);
  if (topK !== null) config.topK = topK;
  const stop = stopSequencesOf(body.stop);
  if (stop !== null) config.stopSequences = stop;
  const n = integerOf(body, 'n', 1);
  if (n !== null && n > 1) config.candidateCount = n;
  const seed = integerOf(body, 'seed', -Infinity);
  if (seed !== null) config.seed = seed;
  const presence = numberOf(body, 'presence_penalty', -2, 2);
  if (presence !== null) config.presencePenalty = presence;
  const frequency = numberOf(body, 'frequency_penalty', -2, 2);
  if (frequency !== null) config.frequencyPenalty = frequency;
  const format = responseFormatOf(body.response_format);
  if (format !== null) {
    config.responseMimeType = 'application/json';
    if (format.schema !== undefined) config.responseJsonSchema = format.schema;
  }
  return Object.keys(config).length === 0 ? null : config;
}

/** `systemInstruction` parts and the turns of `contents` from the OpenAI `messages`. */
function conversationOf(messages: unknown): { system: Json[]; contents: Turn[] } {
  const system: Json[] = [];
  const contents: Turn[] = [];
  /** Each tool call's function, by id, as the assistant turns so far named it: a tool result must name its function. */
  const callNames = new Map<string, string>();
  const add = (role: Turn['role'], parts: readonly Json[]): void => {
    // A message with nothing in it adds no turn: Gemini refuses a turn without parts.
    if (parts.length === 0) return;
    let last = contents[contents.length - 1];
    if (last === undefined || last.role !== role) contents.push((last = { role, parts: [] }));
    for (const part of parts) last.parts.push(part);
  };
  readMessages(messages, unsupported, {
    system: (text) => system.push({ text }),
    user: (m, at) => add('user', userPartsOf(m.content, `${at}.content`)),
    assistant: (m, at) => add('model', modelPartsOf(m, at, callNames)),
    tool: (m, at) => add('user', [functionResponseOf(m, at, callNames)]),
  });
  if (contents.length === 0) throw noTurns();
  return { system, contents };
}

function userPartsOf(content: unknown, at: string): Json[] {
  const parts: Json[] = [];
  if (!Array.isArray(content)) {
    forEachText(content, at, (text) => parts.push({ text }));
    return parts;
  }
  for (let j = 0; j < content.length; j++) {
    const part: unknown = content[j];
    const partAt = `${at}[${j}]`;
    if (!isObject(part)) throw invalid(partAt, 'expected a content part');
    switch (part.type) {
      case 'text':
        if (typeof part.text !== 'string') throw invalid(`${partAt}.text`, 'expected a string');
        if (part.text !== '') parts.push({ text: part.text });
        break;
      case 'image_url':
        parts.push(mediaOf(isObject(part.image_url) ? part.image_url.url : undefined, `${partAt}.image_url.url`));
        break;
      case 'input_audio':
        parts.push(audioOf(part.input_audio, `${partAt}.input_audio`));
        break;
      case 'file':
        parts.push(fileOf(part.file, `${partAt}.file`));
        break;
      default:
        throw invalid(`${partAt}.type`, "expected 'text', 'image_url', 'input_audio' or 'file'");
    }
  }
  return parts;
}

/** A data: URL inline, an http(s) URL by reference (`detail` has no counterpart). */
function mediaOf(url: unknown, at: string): Json {
  if (typeof url !== 'string') throw invalid(at, 'expected a string');
  if (url.startsWith('https://') || url.startsWith('http://')) {
    const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
    const mimeType = extension === undefined ? undefined : TYPE_BY_EXTENSION[extension];
    return { fileData: mimeType === undefined ? { fileUri: url } : { mimeType, fileUri: url } };
  }
  const inline = dataUrlOf(url, at);
  if (inline === null) throw invalid(at, 'expected an http(s) URL or a base64 data: URL');
  return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
}

function audioOf(audio: unknown, at: string): Json {
  if (!isObject(audio) || typeof audio.data !== 'string') throw invalid(`${at}.data`, 'expected a base64 string');
  const mimeType = typeof audio.format === 'string' ? AUDIO_TYPES[audio.format] : undefined;
  if (mimeType === undefined) throw invalid(`${at}.format`, "expected 'wav' or 'mp3'");
  return { inlineData: { mimeType, data: audio.data } };
}

/** A file sent inline (`file_data`, a data: URL); an uploaded OpenAI file (`file_id`) lives where Gemini cannot read it. */
function fileOf(file: unknown, at: string): Json {
  if (!isObject(file)) throw invalid(at, 'expected an object');
  if (isSet(file.file_id)) throw unsupported(`${at}.file_id`, '', 'send the file inline as file_data');
  if (typeof file.file_data !== 'string') throw invalid(`${at}.file_data`, 'expected a base64 data: URL');
  return mediaOf(file.file_data, `${at}.file_data`);
}

function modelPartsOf(m: Json, at: string, callNames: Map<string, string>): Json[] {
  const parts: Json[] = [];
  forEachAssistantText(m.content, `${at}.content`, (text) => parts.push({ text }));
  forEachToolCall(m.tool_calls, `${at}.tool_calls`, unsupported, (id, name, args) => {
    callNames.set(id, name);
    parts.push({ functionCall: { name, args } });
  });
  return parts;
}

/** Gemini reads a function's result from an object: the tool's text goes in `output`, as Google's examples put it. */
function functionResponseOf(m: Json, at: string, callNames: ReadonlyMap<string, string>): Json {
  if (typeof m.tool_call_id !== 'string') throw invalid(`${at}.tool_call_id`, 'expected a string');
  const name = callNames.get(m.tool_call_id);
  if (name === undefined) throw invalid(`${at}.tool_call_id`, 'no earlier assistant message has a tool call with this id');
  let output = '';
  forEachText(m.content ?? '', `${at}.content`, (text) => (output += text));
  return { functionResponse: { name, response: { output } } };
}

function toolsOf(tools: unknown): Json[] | null {
  if (!isSet(tools)) return null;
  if (!Array.isArray(tools)) throw invalid('tools', 'expected an array');
  if (tools.length === 0) return null;
  const declarations = tools.map((tool: unknown, i) => {
    // `strict` has no counterpart: Gemini holds calls to the schema it is given.
    const { name, description, parameters } = functionToolOf(tool, `tools[${i}]`, unsupported);
    const out: Json = { name };
    if (description !== undefined) out.description = description;
    if (parameters !== undefined) out.parametersJsonSchema = parameters;
    return out;
  });
  return [{ functionDeclarations: declarations }];
}

function toolConfigOf(choice: unknown): Json | null {
  const wanted = toolChoiceOf(choice, unsupported);
  if (wanted === null) return null;
  const mode = wanted === 'none' ? 'NONE' : wanted === 'auto' ? 'AUTO' : 'ANY';
  return { functionCallingConfig: typeof wanted === 'object' ? { mode, allowedFunctionNames: [wanted.name] } : { mode } };
}

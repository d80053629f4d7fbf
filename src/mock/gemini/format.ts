/**
 * Gemini's wire format: `POST /v1beta/models/{model}:generateContent` (JSON),
 * `:streamGenerateContent` (`?alt=sse`: one GenerateContentResponse per SSE event; without it one
 * JSON array) and `:countTokens`, with the API key in `x-goog-api-key` (or the `key` query
 * parameter). Errors are google.rpc.Status in JSON, `{"error":{"code","message","status","details"}}`.
 *
 * Strict, it parses the body as Google's proto JSON parser does (params.ts): an unknown name
 * anywhere, a value of the wrong type or enum, then the request's own rules (contents given, parts
 * not empty, one data member per part, valid roles, named functions). Wording from answers quoted
 * in public issue threads: `Invalid JSON payload received. Unknown name "tags": Cannot find field.`,
 * `Invalid value at 'generation_config.temperature' (TYPE_FLOAT), "hot"`, `* GenerateContentRequest.contents:
 * contents is not specified`, "Please use a valid role: user, model.", "API key not valid. Please
 * pass a valid API key." (400, reason API_KEY_INVALID), "Method doesn't allow unregistered callers
 * …" (403 without a key), "The model is overloaded. Please try again later." (503). The wording of
 * the rules Google states less often (the oneof, empty names, allowed names) is the mock's own.
 */
import { jsonType, typeAllowed, type JsonType, type Rejection, type WireFormat, type WireRequest } from '../wire.js';
import { geminiAnswer } from './answer.js';
import { COUNT_TOKENS_REQUEST, GENERATE_CONTENT_REQUEST, PART_DATA, type Schema } from './params.js';
import { camel, field, isObject, pathOf, snake } from './proto.js';

/** google.rpc.Code names by HTTP status, as Google's error bodies pair them. */
const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const statusNameOf = (code: number): string => STATUS_NAMES[code] ?? (code >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');

/** Google's error body. */
export function geminiError(code: number, message: string, details?: readonly unknown[]): Rejection {
  return { status: code, body: { error: { code, message, status: statusNameOf(code), ...(details === undefined ? {} : { details }) } } };
}

/** Google's default wording per status, for the errors the behaviour asks for. */
const MESSAGES: Readonly<Record<number, string>> = {
  429: 'Resource has been exhausted (e.g. check quota).',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
  504: 'Deadline expired before operation could complete.',
};

const NO_IDENTITY =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";
const BAD_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const KEY_INVALID_DETAILS = [
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
];


interface Problems {
  readonly messages: string[];
  readonly violations: Array<{ field?: string; description: string }>;
}

function report(problems: Problems, at: string, description: string): void {
  problems.messages.push(description);
  problems.violations.push(at === '' ? { description } : { field: at, description });
}

/** Every unknown name and value of the wrong type in `value` against `schema`, as Google's parser reports them. */
function audit(value: Record<string, unknown>, schema: Schema, at: string, problems: Problems): void {
  for (const [key, v] of Object.entries(value)) {
    const spec = schema[camel(key)];
    const path = at === '' ? snake(camel(key)) : `${at}.${snake(camel(key))}`;
    if (spec === undefined) {
      report(problems, at, `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${at === '' ? '' : ` at '${at}'`}: Cannot find field.`);
      continue;
    }
    if (v === null) continue; // proto JSON: null is the default value
    const invalidValue = (where: string, bad: unknown) => report(problems, where, `Invalid value at '${where}' (${spec.proto}), ${JSON.stringify(bad)}`);
    if (!typeAllowed(jsonType(v), spec.types) || (typeof v === 'string' && spec.types.includes('string') && !stringFits(v, spec.types, spec.values))) {
      invalidValue(path, v);
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const element: unknown = v[i];
        if (spec.fields !== undefined ? !isObject(element) : !typeAllowed(jsonType(element), spec.element ?? [])) invalidValue(`${path}[${i}]`, element);
        else if (spec.fields !== undefined) audit(element as Record<string, unknown>, spec.fields, `${path}[${i}]`, problems);
      }
    } else if (isObject(v) && spec.fields !== undefined) {
      audit(v, spec.fields, path, problems);
    }
  }
}

/** A string where a number may stand must be numeric; an enum's must be one of its values. */
function stringFits(v: string, types: readonly JsonType[], values: readonly string[] | undefined): boolean {
  if (values !== undefined) return values.includes(v);
  if (types.includes('integer')) return /^-?\d+$/.test(v);
  if (types.includes('number')) return v.trim() !== '' && Number.isFinite(Number(v));
  return true;
}

/** `* GenerateContentRequest.<path>: <rule>`, Google's form for a request that parses but breaks a rule. */
const rule = (path: string, text: string): Rejection => geminiError(400, `* GenerateContentRequest.${path}: ${text}\n`);

/** The rules a parsed generateContent request must keep, in Google's order; the first broken one. */
function checkRules(body: Record<string, unknown>): Rejection | null {
  const contents = field(body, 'contents');
  if (!Array.isArray(contents) || contents.length === 0) return rule('contents', 'contents is not specified');
  const system = field(body, 'systemInstruction');
  const turns: Array<[string, unknown]> = contents.map((c, i) => [`contents[${i}]`, c]);
  if (isObject(system)) turns.push(['system_instruction', system]);
  for (const [at, content] of turns) {
    if (!isObject(content)) continue;
    const role = content.role;
    if (at !== 'system_instruction' && role != null && role !== '' && role !== 'user' && role !== 'model') return geminiError(400, 'Please use a valid role: user, model.');
    const parts = content.parts;
    if (!Array.isArray(parts) || parts.length === 0) return rule(`${at}.parts`, 'contents.parts must not be empty.');
    for (let j = 0; j < parts.length; j++) {
      const part = parts[j] as Record<string, unknown>;
      const set = PART_DATA.filter((name) => field(part, name) != null);
      if (set.length === 0) return rule(`${at}.parts[${j}].data`, "required oneof field 'data' must have one initialized field");
      if (set.length > 1) return geminiError(400, `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${set[1]}'`);
      for (const named of ['functionCall', 'functionResponse'] as const) {
        const call = field(part, named);
        if (isObject(call) && (typeof call.name !== 'string' || call.name === '')) return rule(`${at}.parts[${j}].${snake(named)}.name`, 'Name cannot be empty.');
      }
    }
  }
  const tools = field(body, 'tools');
  if (Array.isArray(tools)) {
    for (let i = 0; i < tools.length; i++) {
      const declarations = field(tools[i] as Record<string, unknown>, 'functionDeclarations');
      if (!Array.isArray(declarations)) continue;
      for (let j = 0; j < declarations.length; j++) {
        const d = declarations[j] as Record<string, unknown>;
        const at = `tools[${i}].function_declarations[${j}]`;
        if (typeof d.name !== 'string' || d.name === '') return rule(`${at}.name`, 'Name cannot be empty.');
        if (field(d, 'parameters') != null && field(d, 'parametersJsonSchema') != null) return rule(`${at}.parameters`, 'parameters and parameters_json_schema cannot both be set.');
      }
    }
  }
  const calling = field((field(body, 'toolConfig') ?? {}) as Record<string, unknown>, 'functionCallingConfig');
  if (isObject(calling) && Array.isArray(field(calling, 'allowedFunctionNames')) && calling.mode !== 'ANY' && calling.mode !== 'VALIDATED') {
    return rule('tool_config.function_calling_config.allowed_function_names', 'allowed_function_names may only be set when mode is ANY or VALIDATED.');
  }
  const config = field(body, 'generationConfig');
  if (isObject(config) && (field(config, 'responseSchema') != null || field(config, 'responseJsonSchema') != null)) {
    const mime = field(config, 'responseMimeType');
    if (mime !== 'application/json' && mime !== 'text/x.enum') return rule('generation_config.response_mime_type', 'response_mime_type must be application/json or text/x.enum when a response schema is set.');
  }
  return null;
}

function credentialOf(req: WireRequest): string | undefined {
  return req.headers['x-goog-api-key'] ?? req.query.get('key') ?? undefined;
}

export const geminiFormat: WireFormat = {
  route(req) {
    const path = pathOf(req.path);
    if (path === null || req.method !== 'POST') return geminiError(404, `The requested URL ${req.path} was not found on this server.`);
    return path.method === 'countTokens' ? 'count_tokens' : 'chat';
  },
  modelOf: (req) => pathOf(req.path)?.model ?? null,
  checkRequest(req, expectedKey) {
    const key = credentialOf(req);
    if (key === undefined || key === '') return /^Bearer /.test(req.headers.authorization ?? '') ? geminiError(401, BAD_CREDENTIALS) : geminiError(403, NO_IDENTITY);
    if (expectedKey !== undefined && key !== expectedKey) return geminiError(400, 'API key not valid. Please pass a valid API key.', KEY_INVALID_DETAILS);
    const alt = req.query.get('alt');
    if (alt !== null && alt !== 'json' && alt !== 'sse') return geminiError(400, `Invalid value at 'alt' (type.googleapis.com/google.api.SystemParameter), ${JSON.stringify(alt)}`);
    return null;
  },
  checkBody(endpoint, body) {
    if (!isObject(body)) return geminiError(400, 'Invalid JSON payload received. Unexpected token.');
    const problems: Problems = { messages: [], violations: [] };
    audit(body, endpoint === 'count_tokens' ? COUNT_TOKENS_REQUEST : GENERATE_CONTENT_REQUEST, '', problems);
    if (problems.messages.length > 0) {
      return geminiError(400, problems.messages.join('\n'), [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: problems.violations }]);
    }
    if (endpoint === 'count_tokens') {
      const inner = field(body, 'generateContentRequest');
      return isObject(inner) ? checkRules(inner) : checkRules(body);
    }
    return checkRules(body);
  },
  error(status, message, code) {
    if (status === 400 && code === 'context_length_exceeded') return geminiError(400, 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).');
    return geminiError(status, MESSAGES[status] ?? message);
  },
  limitError: (message) => geminiError(429, message),
  // Gemini reports no limits in headers; its 429 says RESOURCE_EXHAUSTED in the body.
  limitHeaders: () => ({}),
  answer: geminiAnswer,
};

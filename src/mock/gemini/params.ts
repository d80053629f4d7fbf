/**
 * The fields Gemini's `generateContent` request accepts, nested, with their JSON types: the
 * messages of Google's REST reference for v1beta (`GenerateContentRequest`, `Content`, `Part`,
 * `Tool`, `FunctionDeclaration`, `ToolConfig`, `GenerationConfig`, `SafetySetting`), as the
 * `@google/genai` types (googleapis/js-genai `src/types.ts`) declare them. Google parses the body as
 * a protocol buffer in JSON, so a name is accepted in lowerCamelCase or as the proto's snake_case,
 * and an unknown name anywhere is an error. Fields holding a `google.protobuf.Struct` or `Value`
 * (function arguments and results, JSON schemas) and tools the mock does not model take any object.
 * Regenerate when Google adds a field.
 */
import type { JsonType } from '../wire.js';

export interface FieldSpec {
  /** What the value may be; `array` for a repeated field, whose elements are `element`. */
  readonly types: readonly JsonType[];
  /** The proto type Google names in an "Invalid value" error. */
  readonly proto: string;
  /** A message's fields (for an object, or each element of a repeated message). */
  readonly fields?: Schema;
  /** A repeated field's element type, when its elements are not messages. */
  readonly element?: readonly JsonType[];
  /** An enum's values. */
  readonly values?: readonly string[];
}

export type Schema = Readonly<Record<string, FieldSpec>>;

const MESSAGE = 'type.googleapis.com/google.ai.generativelanguage.v1beta.';
const STRING: FieldSpec = { types: ['string'], proto: 'TYPE_STRING' };
const BOOL: FieldSpec = { types: ['boolean'], proto: 'TYPE_BOOL' };
// Proto JSON takes a number or a numeric string for numeric fields.
const INT: FieldSpec = { types: ['integer', 'string'], proto: 'TYPE_INT32' };
const FLOAT: FieldSpec = { types: ['number', 'string'], proto: 'TYPE_FLOAT' };
const STRINGS: FieldSpec = { types: ['array'], proto: 'TYPE_STRING', element: ['string'] };
/** A Struct, a Value, or a message the mock does not look into. */
const open = (name: string): FieldSpec => ({ types: ['object'], proto: `${MESSAGE}${name}` });
const message = (name: string, fields: Schema): FieldSpec => ({ types: ['object'], proto: `${MESSAGE}${name}`, fields });
const repeated = (name: string, fields: Schema): FieldSpec => ({ types: ['array'], proto: `${MESSAGE}${name}`, fields });
const enumOf = (name: string, values: readonly string[]): FieldSpec => ({ types: ['string'], proto: `${MESSAGE}${name}`, values });

const PART: Schema = {
  text: STRING,
  inlineData: message('Blob', { mimeType: STRING, data: STRING }),
  fileData: message('FileData', { mimeType: STRING, fileUri: STRING }),
  functionCall: message('FunctionCall', { id: STRING, name: STRING, args: open('Struct') }),
  functionResponse: message('FunctionResponse', {
    id: STRING,
    name: STRING,
    response: open('Struct'),
    parts: { types: ['array'], proto: `${MESSAGE}FunctionResponsePart`, element: ['object'] },
    willContinue: BOOL,
    scheduling: enumOf('FunctionResponse.Scheduling', ['SCHEDULING_UNSPECIFIED', 'SILENT', 'WHEN_IDLE', 'INTERRUPT']),
  }),
  executableCode: message('ExecutableCode', { language: STRING, code: STRING }),
  codeExecutionResult: message('CodeExecutionResult', { outcome: STRING, output: STRING }),
  thought: BOOL,
  thoughtSignature: STRING,
  videoMetadata: message('VideoMetadata', { startOffset: STRING, endOffset: STRING, fps: FLOAT }),
  partMetadata: open('Struct'),
  mediaResolution: open('MediaResolution'),
};

/** The members of Part's `data` oneof: exactly one is set. */
export const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'] as const;

export const CONTENT: Schema = { parts: repeated('Part', PART), role: STRING };

const FUNCTION_DECLARATION: Schema = {
  name: STRING,
  description: STRING,
  behavior: enumOf('FunctionDeclaration.Behavior', ['UNSPECIFIED', 'BLOCKING', 'NON_BLOCKING']),
  parameters: open('Schema'),
  parametersJsonSchema: open('Value'),
  response: open('Schema'),
  responseJsonSchema: open('Value'),
};

const TOOL: Schema = {
  functionDeclarations: repeated('FunctionDeclaration', FUNCTION_DECLARATION),
  googleSearchRetrieval: open('GoogleSearchRetrieval'),
  codeExecution: open('CodeExecution'),
  googleSearch: open('Tool.GoogleSearch'),
  urlContext: open('UrlContext'),
  computerUse: open('Tool.ComputerUse'),
  fileSearch: open('FileSearch'),
  googleMaps: open('GoogleMaps'),
};

export const FUNCTION_CALLING_MODES = ['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED'] as const;

const GENERATION_CONFIG: Schema = {
  stopSequences: STRINGS,
  responseMimeType: STRING,
  responseSchema: open('Schema'),
  responseJsonSchema: open('Value'),
  responseModalities: STRINGS,
  candidateCount: INT,
  maxOutputTokens: INT,
  temperature: FLOAT,
  topP: FLOAT,
  topK: INT,
  seed: INT,
  presencePenalty: FLOAT,
  frequencyPenalty: FLOAT,
  responseLogprobs: BOOL,
  logprobs: INT,
  enableEnhancedCivicAnswers: BOOL,
  speechConfig: open('SpeechConfig'),
  thinkingConfig: message('ThinkingConfig', { includeThoughts: BOOL, thinkingBudget: INT, thinkingLevel: STRING }),
  imageConfig: open('ImageConfig'),
  mediaResolution: STRING,
};

export const GENERATE_CONTENT_REQUEST: Schema = {
  model: STRING,
  contents: repeated('Content', CONTENT),
  tools: repeated('Tool', TOOL),
  toolConfig: message('ToolConfig', {
    functionCallingConfig: message('FunctionCallingConfig', { mode: enumOf('FunctionCallingConfig.Mode', FUNCTION_CALLING_MODES), allowedFunctionNames: STRINGS }),
    retrievalConfig: open('RetrievalConfig'),
  }),
  safetySettings: repeated('SafetySetting', { category: STRING, threshold: STRING }),
  systemInstruction: message('Content', CONTENT),
  generationConfig: message('GenerationConfig', GENERATION_CONFIG),
  cachedContent: STRING,
};

export const COUNT_TOKENS_REQUEST: Schema = {
  contents: repeated('Content', CONTENT),
  generateContentRequest: message('GenerateContentRequest', GENERATE_CONTENT_REQUEST),
};

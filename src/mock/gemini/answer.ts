/**
 * The mock's answers in Gemini's format. Deterministic like the other formats: prompt tokens =
 * ⌈characters of system-instruction and content text / 4⌉, one candidate token per text chunk (and
 * one for a function call), times `candidateCount`. A stream is one GenerateContentResponse per
 * text chunk, each with the usage so far (Google repeats it, cumulative, in every event), then the
 * function call if any, then a last event with the finish reason and the final usage. With function
 * declarations offered, calling not off and no function response to answer, a `functionCall` part
 * follows the text (the first allowed name, else the first declared function), as Gemini's finish
 * reason for it is still STOP.
 */
import { NO_USAGE, tokensOfChars, type Answer, type AnswerContext, type Endpoint } from '../wire.js';
import { field, pathOf, type Json } from './proto.js';

const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as unknown[]).filter((x): x is Json => typeof x === 'object' && x !== null) : []);

function promptTokensOf(body: Json): number {
  let chars = 0;
  const system = field(body, 'systemInstruction') as Json | undefined;
  for (const content of [...(system === undefined ? [] : [system]), ...list(body.contents)]) {
    for (const part of list(content.parts)) if (typeof part.text === 'string') chars += part.text.length;
  }
  return tokensOfChars(chars);
}

/** The function the mock calls, or null. */
function functionCallFor(body: Json): string | null {
  const declarations = list(body.tools).flatMap((t) => list(field(t, 'functionDeclarations')));
  const calling = field(field(body, 'toolConfig') as Json | undefined, 'functionCallingConfig') as Json | undefined;
  const lastParts = list(list(body.contents).at(-1)?.parts);
  if (declarations.length === 0 || calling?.mode === 'NONE' || lastParts.some((p) => field(p, 'functionResponse') != null)) return null;
  const allowed = field(calling, 'allowedFunctionNames');
  const name = Array.isArray(allowed) && typeof allowed[0] === 'string' ? allowed[0] : declarations[0]!.name;
  return typeof name === 'string' ? name : null;
}

function candidateCountOf(body: Json): number {
  const n = Number(field(field(body, 'generationConfig') as Json | undefined, 'candidateCount') ?? 1);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

function generateAnswer(body: Json, ctx: AnswerContext): Answer {
  const b = ctx.behaviour;
  const path = pathOf(ctx.request.path);
  const modelVersion = path?.model ?? 'mock-model';
  const responseId = `mock-${ctx.instance}-${ctx.sequence}`;
  const candidates = candidateCountOf(body);
  const promptTokenCount = promptTokensOf(body);
  const call = functionCallFor(body);
  const perCandidate = b.chunks + (call === null ? 0 : 1);
  const usageAfter = (candidateTokens: number): Json => ({
    promptTokenCount,
    candidatesTokenCount: candidateTokens,
    totalTokenCount: promptTokenCount + candidateTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
  });
  const response = (parts: Json[], finished: boolean, candidateTokens: number): Json => ({
    candidates: Array.from({ length: candidates }, (_, index) => ({ content: { parts, role: 'model' }, ...(finished ? { finishReason: 'STOP' } : {}), index })),
    usageMetadata: usageAfter(candidateTokens),
    modelVersion,
    responseId,
  });
  const callPart = call === null ? null : { functionCall: { name: call, args: {} } };
  const reported = { promptTokens: promptTokenCount, completionTokens: perCandidate * candidates };

  if (path?.method !== 'streamGenerateContent') {
    const text = Array.from({ length: b.chunks }, (_, i) => ctx.word(i)).join('');
    return { kind: 'json', usage: reported, reportsUsage: true, body: response([{ text }, ...(callPart === null ? [] : [callPart])], true, perCandidate * candidates) };
  }
  const events = Array.from({ length: b.chunks }, (_, i) => response([{ text: ctx.word(i) }], false, (i + 1) * candidates));
  const tail = callPart === null ? [] : [response([callPart], false, perCandidate * candidates)];
  const last = response([{ text: '' }], true, perCandidate * candidates);
  if (ctx.request.query.get('alt') !== 'sse') {
    // Without alt=sse Google streams one JSON array of the same responses.
    return { kind: 'json', usage: reported, reportsUsage: true, body: [...events, ...tail, last] };
  }
  // Google ends each event with CRLF CRLF.
  const frame = (r: Json): string => `data: ${JSON.stringify(r)}\r\n\r\n`;
  return { kind: 'stream', usage: reported, reportsUsage: true, script: { head: [], chunk: (i) => frame(events[i]!), tail: tail.map(frame), end: frame(last) } };
}

export function geminiAnswer(endpoint: Endpoint, body: Readonly<Json>, ctx: AnswerContext): Answer {
  if (endpoint !== 'count_tokens') return generateAnswer(body, ctx);
  const inner = field(body, 'generateContentRequest') as Json | undefined;
  return { kind: 'json', usage: NO_USAGE, reportsUsage: false, body: { totalTokens: promptTokensOf(inner ?? body) } };
}

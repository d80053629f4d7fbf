/**
 * OpenAI chat requests as Gemini generateContent requests: each OpenAI feature lands where Gemini
 * reads it, every body passes the strict Gemini mock's parse and rules (the fields Google's REST
 * reference declares), and what cannot be translated is a 400 naming the parameter.
 */
import { describe, expect, it } from 'vitest';
import { geminiFormat } from '../../../../src/mock/gemini/format.js';
import { chatPathOf } from '../../../../src/providers/gemini/endpoint.js';
import { fromOpenAiRequest } from '../../../../src/providers/gemini/request.js';
import { refusalOf } from '../../../support/refusal.js';

const USER = { role: 'user', content: 'Hi' };
const CALL = { id: 'call_r1_0_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };

function translate(body: Record<string, unknown>): Record<string, any> {
  const parsed = JSON.parse(fromOpenAiRequest({ model: 'gemini', ...body }).toString('utf8')) as Record<string, any>;
  expect(geminiFormat.checkBody('chat', parsed)).toBeNull();
  return parsed;
}

const refusal = (body: Record<string, unknown>) => refusalOf(() => fromOpenAiRequest({ model: 'gemini', ...body }));

describe('conversation', () => {
  it('system and developer messages become systemInstruction parts; the model and stream stay out of the body', () => {
    const out = translate({ stream: true, stream_options: { include_usage: true }, tags: ['x'], messages: [{ role: 'system', content: 'Be brief.' }, USER, { role: 'developer', content: [{ type: 'text', text: 'French.' }] }] });
    expect(out).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'French.' }] } });
  });

  it('images and audio: a data: URL inline, an https URL by reference with the type its extension names', () => {
    const out = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.JPG?size=2' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
          ],
        },
      ],
    });
    expect(out.contents[0].parts).toEqual([
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.JPG?size=2' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
  });

  it('a tool round trip: calls in a model turn, results named after the call their id answers, consecutive results in one turn', () => {
    const out = translate({
      messages: [
        USER,
        { role: 'assistant', content: null, tool_calls: [CALL, { ...CALL, id: 'call_r1_0_1', function: { name: 'now', arguments: '' } }] },
        { role: 'tool', tool_call_id: 'call_r1_0_1', content: '12:00' },
        { role: 'tool', tool_call_id: 'call_r1_0_0', content: [{ type: 'text', text: '21°C' }] },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(out.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'now', args: {} } }] },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'now', response: { output: '12:00' } } }, { functionResponse: { name: 'get_weather', response: { output: '21°C' } } }, { text: 'Thanks' }],
      },
    ]);
  });

  it('a tool result whose id no earlier call has is a 400 naming it', () => {
    expect(refusal({ messages: [USER, { role: 'tool', tool_call_id: 'call_x', content: 'r' }] })).toMatchObject({ code: 'invalid_request', param: 'messages[1].tool_call_id' });
  });
});

describe('parameters', () => {
  it('generationConfig carries every sampling and length parameter', () => {
    const out = translate({ messages: [USER], max_completion_tokens: 100, max_tokens: 5, temperature: 1.5, top_p: 0.9, top_k: 40, stop: 'END', n: 2, seed: 7, presence_penalty: 0.5, frequency_penalty: -0.5 });
    expect(out.generationConfig).toEqual({ maxOutputTokens: 100, temperature: 1.5, topP: 0.9, topK: 40, stopSequences: ['END'], candidateCount: 2, seed: 7, presencePenalty: 0.5, frequencyPenalty: -0.5 });
  });

  it('response_format: JSON mode and a JSON schema (kept as JSON Schema, additionalProperties included)', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    expect(translate({ messages: [USER], response_format: { type: 'json_object' } }).generationConfig).toEqual({ responseMimeType: 'application/json' });
    expect(translate({ messages: [USER], response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }).generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema });
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
    [{ type: 'function', function: { name: 'get_weather' } }, { mode: 'ANY', allowedFunctionNames: ['get_weather'] }],
  ])('tools and tool_choice %j', (choice, config) => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } },
      { type: 'function', function: { name: 'now' } },
    ];
    const out = translate({ messages: [USER], tools, tool_choice: choice });
    expect(out.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather', description: 'Weather', parametersJsonSchema: tools[0]!.function.parameters }, { name: 'now' }] }]);
    expect(out.toolConfig).toEqual({ functionCallingConfig: config });
  });

  it.each([
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 2 }, 'top_logprobs'],
    [{ audio: { voice: 'alloy' } }, 'audio'],
    [{ functions: [] }, 'functions'],
    [{ logit_bias: { '1': 2 } }, 'logit_bias'],
    [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
    [{ tools: [{ type: 'custom', custom: {} }] }, 'tools[0].type'],
    [{ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }, 'messages[0].content[0].file.file_id'],
  ])('%j is refused as unsupported', (body, param) => {
    expect(refusal({ messages: [USER], ...body })).toMatchObject({ code: 'unsupported_parameter', status: 400, param, message: expect.stringContaining("Google's Gemini API") });
  });

  it.each([
    [{ temperature: 3 }, 'temperature'],
    [{ n: 0 }, 'n'],
    [{ top_k: 0 }, 'top_k'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'assistant', tool_calls: [{ ...CALL, function: { name: 'f', arguments: '{bad' } }] }] }, 'messages[0].tool_calls[0].function.arguments'],
  ])('%j is a 400 naming the parameter', (body, param) => {
    expect(refusal({ messages: [USER], ...body })).toMatchObject({ code: 'invalid_request', param });
  });
});

it('paths: the model in the path, streaming by method with alt=sse', () => {
  expect(chatPathOf('gemini-2.5-flash', false)).toBe('/models/gemini-2.5-flash:generateContent');
  expect(chatPathOf('gemini-2.5-flash', true)).toBe('/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
});

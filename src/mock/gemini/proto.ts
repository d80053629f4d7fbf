/** What Gemini's mock reads the same way everywhere: the model and method in a path, and a field in either proto JSON spelling. */

const ROUTE = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

/** The model and method a path names, or null. */
export function pathOf(path: string): { model: string; method: string } | null {
  const match = ROUTE.exec(path);
  return match === null ? null : { model: decodeURIComponent(match[1]!), method: match[2]! };
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A field by its camelCase name, given in either spelling (Google's parser takes both). */
export const field = (o: Json | undefined, name: string): unknown => o?.[name] ?? o?.[snake(name)];

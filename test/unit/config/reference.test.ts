/**
 * docs/configuration.md against the zod schema the router validates with (through its JSON Schema,
 * the same walk `llm-router schema` emits): every key a router.yaml may hold is documented, every key
 * the reference names exists, and the defaults it gives are the schema's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { routerJsonSchema } from '../../../src/config/json-schema.js';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  default?: unknown;
}

/** Every key path (`a.b`, `list[].c`) with its schema; a map or a list of scalars is one key. */
function schemaPaths(node: SchemaNode, path: string, out: Map<string, SchemaNode>): Map<string, SchemaNode> {
  for (const branch of node.anyOf ?? node.oneOf ?? []) schemaPaths(branch, path, out);
  if (path && !out.has(path)) out.set(path, node);
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) schemaPaths(child, path ? `${path}.${key}` : key, out);
  } else if (node.items?.properties || node.items?.anyOf || node.items?.oneOf) {
    schemaPaths(node.items, `${path}[]`, out);
  }
  return out;
}

/** A path no other path extends: what a user writes a value for. */
function leaves(paths: Iterable<string>): string[] {
  const all = [...paths];
  return all.filter((p) => !all.some((q) => q.startsWith(`${p}.`) || q.startsWith(`${p}[]`)));
}

/** `a.{b,c}` → `a.b`, `a.c`, nested braces included; inside a brace `|` separates alternatives as `,` does. */
function expandBraces(text: string): string[] {
  const open = text.indexOf('{');
  if (open < 0) return [text];
  let depth = 0;
  let close = open;
  const cuts: number[] = [];
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if ((c === ',' || c === '|') && depth === 1) cuts.push(i);
  }
  const inner: string[] = [];
  let from = open + 1;
  for (const cut of [...cuts, close]) {
    inner.push(text.slice(from, cut).trim());
    from = cut + 1;
  }
  const head = text.slice(0, open);
  const tail = text.slice(close + 1);
  return inner.flatMap((alt) => expandBraces(head + alt + tail));
}

interface Row {
  line: number;
  paths: string[];
  defaults: string;
}

/** The rows of the `| key | default | meaning |` table: the code spans of the key cell, expanded. */
function referenceRows(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const header = lines.findIndex((l) => /^\|\s*key\s*\|\s*default\s*\|\s*meaning\s*\|/.test(l));
  expect(header, 'docs/configuration.md has its `| key | default | meaning |` table').toBeGreaterThanOrEqual(0);
  const rows: Row[] = [];
  for (let i = header + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    // A cell may hold `\|` (a literal pipe); only an unescaped one ends the cell.
    const cells = lines[i]!.split(/(?<!\\)\|/).slice(1, -1);
    const spans = [...cells[0]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replaceAll('\\|', '|'));
    rows.push({ line: i + 1, paths: spans.flatMap(expandBraces), defaults: cells[1]!.trim() });
  }
  return rows;
}

/** How the reference writes a default: a code span of the YAML value. */
function asCode(value: unknown): string {
  if (Array.isArray(value)) return `\`[${value.join(', ')}]\``;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return '`{}`';
  return `\`${String(value)}\``;
}

const reference = readFileSync(join(PROJECT_ROOT, 'docs/configuration.md'), 'utf8');
const rows = referenceRows(reference);
const schema = schemaPaths(routerJsonSchema() as SchemaNode, '', new Map());

describe('docs/configuration.md', () => {
  it('documents every key router.yaml accepts (a nested object may be documented as a whole)', () => {
    const named = new Set(rows.flatMap((r) => r.paths));
    const covered = (path: string): boolean =>
      [...named].some((n) => path === n || path.startsWith(`${n}.`) || path.startsWith(`${n}[]`));
    expect(leaves(schema.keys()).filter((p) => !covered(p))).toEqual([]);
  });

  it('names only keys router.yaml accepts', () => {
    const unknown = rows.flatMap((r) => r.paths.filter((p) => !schema.has(p)).map((p) => `line ${r.line}: ${p}`));
    expect(unknown).toEqual([]);
  });

  it('gives the default the schema sets, for each key of a row that lists one default per key', () => {
    const wrong: string[] = [];
    for (const { line, paths, defaults } of rows) {
      // `a.{b,c}` | `1`, `2`: one default per key; a row that describes them together is not compared.
      const parts = paths.length === 1 ? [defaults] : defaults.split(', ');
      if (parts.length !== paths.length) continue;
      paths.forEach((path, i) => {
        const node = schema.get(path);
        // A default the compiler derives (a deployment's `cluster`, its `weight`) is not in the schema.
        if (node?.default === undefined) return;
        // A section (`balance`, `overload`) defaults to `{}` and documents its members' defaults instead.
        if (node.properties) return;
        const expected = asCode(node.default);
        if (parts[i] !== expected) wrong.push(`line ${line}: ${path} defaults to ${expected}, the reference says ${parts[i]}`);
      });
    }
    expect(wrong).toEqual([]);
  });
});

describe('expandBraces', () => {
  it('expands nested braces and pipes as alternatives, keeping what follows a brace', () => {
    expect(expandBraces('a.{b,c[].{d,e}}')).toEqual(['a.b', 'a.c[].d', 'a.c[].e']);
    expect(expandBraces('k[].{name,key_sha256 | key_env}')).toEqual(['k[].name', 'k[].key_sha256', 'k[].key_env']);
    expect(expandBraces('p.{input,output}_per_million')).toEqual(['p.input_per_million', 'p.output_per_million']);
  });
});

/**
 * Reads router.yaml and reports every problem at once, each with its YAML path and line, so an
 * operator fixes a broken file in one pass instead of one error per restart.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { compileConfig, secretFilesOf, type RouterConfig } from './compile.js';
import { checkEnvoyConfig, type Level } from './envoy-check.js';
import { configDumpAsStatic } from './envoy-dump.js';
import { routerConfigSchema, type RouterConfigFile } from './schema.js';

export interface ConfigProblem {
  /** `deployments[1].price.input_per_million`, or `(root)`. */
  readonly path: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s)\n${problems.map((p) => formatProblem(file, p)).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line === null ? file : `${file}:${p.line}:${p.column}`;
  return `${where} ${p.path}: ${p.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}

/** Where `path` is in the file: the deepest node of it that exists (a missing key points at its parent). */
function locate(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): { line: number | null; column: number | null } {
  let node: unknown = undefined;
  for (let depth = path.length; depth >= 0 && node === undefined; depth--) {
    node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
  }
  const offset = (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
  const pos = offset === undefined ? undefined : lineCounter.linePos(offset);
  return { line: pos?.line ?? null, column: pos?.col ?? null };
}

/** router.yaml's text validated, or every problem in it. */
function validateConfig(text: string, file: string): RouterConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '(yaml)', line: pos?.line ?? null, column: pos?.col ?? null, message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  const result = routerConfigSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => ({ path: formatPath(issue.path), ...locate(doc, lineCounter, issue.path), message: issue.message }));
    throw new ConfigError(file, problems);
  }
  return result.data;
}

/** `credentialFiles`: the contents of the files named by `api_key_file`, by path. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, credentialFiles: ReadonlyMap<string, string> = new Map()): RouterConfig {
  return compileConfig(validateConfig(text, file), env, credentialFiles);
}

/** Credential files are read with the config, at start and at every reload: a rotated Secret takes effect on reload. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<RouterConfig> {
  const validated = validateConfig(await readFile(file, 'utf8'), file);
  // Relative to router.yaml; a missing or unreadable file leaves the deployment without a credential, as serve.ts warns.
  const named = [...new Set(validated.deployments.flatMap(secretFilesOf))];
  const contents = await Promise.all(named.map((f) => readFile(resolve(dirname(file), f), 'utf8').catch(() => null)));
  const files = new Map(named.flatMap((f, i): Array<[string, string]> => (contents[i] == null ? [] : [[f, contents[i]!]])));
  return compileConfig(validated, env, files);
}

/** A running Envoy's problems for `router`, from its admin API's `/config_dump` (paths, no lines). */
export async function checkEnvoyAdmin(adminUrl: string, router: RouterConfig): Promise<Array<ConfigProblem & { readonly level: Level }>> {
  const res = await fetch(new URL('/config_dump', adminUrl), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${adminUrl}/config_dump: HTTP ${res.status}`);
  return checkEnvoyConfig(configDumpAsStatic(await res.json()), router).map((p) => ({ level: p.level, path: formatPath(p.path), line: null, column: null, message: p.message }));
}

/** envoy.yaml's problems for `router` (config/envoy-check.ts), each with its path and line. */
export async function checkEnvoyFile(file: string, router: RouterConfig): Promise<Array<ConfigProblem & { readonly level: Level }>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(await readFile(file, 'utf8'), { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) throw new Error(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  return checkEnvoyConfig(doc.toJS({ maxAliasCount: -1 }), router).map((p) => ({ level: p.level, path: formatPath(p.path), ...locate(doc, lineCounter, p.path), message: p.message }));
}

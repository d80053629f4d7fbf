/**
 * The house rules, enforced: only extproc/ knows Envoy's generated types, and routing/ stays pure
 * (its clock and randomness come in through PolicyEnv; no I/O).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/devstack/binaries.js';

const SRC = join(PROJECT_ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? (name === 'gen' ? [] : files(path)) : path.endsWith('.ts') ? [path] : [];
  });
}

const sources = files(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));

describe('architecture', () => {
  it('only extproc/ imports the generated Envoy code', () => {
    const offenders = sources.filter((s) => !s.path.startsWith('extproc/') && /from '[./]*\/gen\//.test(s.text)).map((s) => s.path);
    expect(offenders).toEqual([]);
  });

  it('routing/ has no clock, randomness, environment or I/O of its own', () => {
    const forbidden = /Date\.now|Math\.random|process\.env|from 'ioredis'|from 'node:(fs|net|http|child_process)/;
    const offenders = sources.filter((s) => s.path.startsWith('routing/') && forbidden.test(s.text)).map((s) => s.path);
    expect(offenders).toEqual([]);
  });
});

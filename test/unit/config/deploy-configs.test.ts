/**
 * docker-compose's router config is the bundled example with its state in Redis: the two files
 * stay the same everywhere else, so the compose stack demonstrates what `npm start` does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';

const read = (...path: string[]) => readFileSync(join(PROJECT_ROOT, ...path), 'utf8');

it("docker-compose's router.yaml is examples/router.yaml with state.kind: redis", () => {
  const example = parse(read('examples', 'router.yaml')) as { state: { kind: string } };
  const compose = parse(read('deploy', 'compose', 'router.yaml')) as { state: { kind: string } };
  expect(example.state.kind).toBe('memory');
  expect(compose.state.kind).toBe('redis');
  expect({ ...compose, state: { ...compose.state, kind: 'memory' } }).toEqual(example);
});

it("docker-compose's router.yaml is a valid config pointing at the compose Redis", () => {
  const config = parseConfig(read('deploy', 'compose', 'router.yaml'), 'router.yaml', { LLM_ROUTER_ADMIN_TOKEN: 't' });
  expect(config.state).toMatchObject({ kind: 'redis', redis: { url: 'redis://127.0.0.1:6379' } });
});

/** The committed router.schema.json is what `llm-router schema` emits from the zod schema now. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { routerJsonSchema } from '../../../src/config/json-schema.js';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';

it('router.schema.json is up to date (regenerate: node dist/main.js schema > router.schema.json)', () => {
  expect(JSON.parse(readFileSync(join(PROJECT_ROOT, 'router.schema.json'), 'utf8'))).toEqual(routerJsonSchema());
});

it('refuses unknown keys and knows every top-level section', () => {
  const schema = routerJsonSchema() as { additionalProperties: unknown; properties: Record<string, unknown> };
  expect(schema.additionalProperties).toBe(false);
  expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['server', 'routing', 'state', 'model_groups', 'deployments']));
});

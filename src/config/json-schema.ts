/**
 * router.yaml as a JSON Schema, emitted from the zod schema the router validates with, for editors
 * (yaml-language-server's `$schema` modeline) and for CI outside Node. It describes what a file may
 * hold (zod's input side: defaulted keys optional, unknown keys refused); the cross-field checks
 * (a group's deployments, budgets' owners, …) exist only in `llm-router validate`.
 */
import { z } from 'zod';
import { routerConfigSchema } from './schema.js';

export function routerJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(routerConfigSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }),
    title: 'envoy-llm-router router.yaml',
  };
}

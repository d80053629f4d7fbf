/** `GET /v1/models`: the model groups, in OpenAI's list format, rendered once per config. */
import type { RouterConfig } from '../config/compile.js';

export function renderModelsList(config: RouterConfig, createdSec: number): Buffer {
  const data = [...config.groups.values()].map((g) => ({ id: g.name, object: 'model', created: createdSec, owned_by: 'envoy-llm-router' }));
  return Buffer.from(JSON.stringify({ object: 'list', data }));
}

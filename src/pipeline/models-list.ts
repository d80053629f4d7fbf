/** `GET /v1/models`: the model groups and virtual models a caller may use, in OpenAI's list format. */
export function renderModelsList(names: readonly string[], createdSec: number): Buffer {
  const data = names.map((id) => ({ id, object: 'model', created: createdSec, owned_by: 'envoy-llm-router' }));
  return Buffer.from(JSON.stringify({ object: 'list', data }));
}

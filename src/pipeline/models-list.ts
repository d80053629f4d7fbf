/** `GET /v1/models`: the model groups and virtual models a caller may use, in OpenAI's list format. */
const modelObject = (id: string, createdSec: number) => ({ id, object: 'model', created: createdSec, owned_by: 'envoy-llm-router' });

export function renderModelsList(names: readonly string[], createdSec: number): Buffer {
  return Buffer.from(JSON.stringify({ object: 'list', data: names.map((id) => modelObject(id, createdSec)) }));
}

/** `GET /v1/models/{id}`: one of them. */
export function renderModel(id: string, createdSec: number): Buffer {
  return Buffer.from(JSON.stringify(modelObject(id, createdSec)));
}

const MODELS_PATHS = ['/v1/models', '/models'];

/** For a models API path: '' for the list, the model id for one model (`/v1/models/{id}`); null for any other path. */
export function modelsPathOf(path: string): string | null {
  for (const prefix of MODELS_PATHS) {
    if (path === prefix) return '';
    if (path.startsWith(`${prefix}/`) && path.length > prefix.length + 1) {
      try {
        return decodeURIComponent(path.slice(prefix.length + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Reading free-form YAML or JSON (Envoy configs): typed accessors that never throw, and a walk. */
export type Obj = Record<string, unknown>;
export type YamlPath = ReadonlyArray<string | number>;

export interface Found {
  readonly value: Obj;
  readonly path: YamlPath;
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Every object under `value` (itself included), depth first, with its path. */
export function* objects(value: unknown, path: YamlPath = []): Generator<Found> {
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* objects(value[i], [...path, i]);
  else if (isObj(value)) {
    yield { value, path };
    for (const [k, v] of Object.entries(value)) yield* objects(v, [...path, k]);
  }
}

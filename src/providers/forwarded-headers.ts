/**
 * Which of a client's request headers a provider receives: an allowlist per provider, never a
 * denylist. A provider's API reads more headers than their names suggest — `OpenAI-Organization`
 * and `OpenAI-Project` choose which organization the gateway's key bills — and every header a new
 * SDK or browser sends would otherwise reach it next to the gateway's credential.
 *
 * Entries are lower-case names; one ending in `*` is a prefix (`x-stainless-*`).
 */

/**
 * What an OpenAI-style API needs or an SDK sends harmlessly: the body's type and length, what the
 * client accepts, who it is (`user-agent`, the OpenAI SDKs' `x-stainless-*` telemetry: language,
 * version, retry count, timeout) and W3C trace context, so a provider's trace joins the caller's.
 * Not `accept-encoding` (the router reads usage from the response, which must not be compressed).
 */
const OPENAI_COMPATIBLE = ['content-type', 'content-length', 'accept', 'user-agent', 'x-stainless-*', 'traceparent', 'tracestate'] as const;

/** Every provider kind speaks OpenAI's wire format today, so they share one list. */
export const PROVIDER_HEADERS: Readonly<Record<'openai' | 'azure-openai' | 'vllm' | 'openai-compatible', readonly string[]>> = {
  openai: OPENAI_COMPATIBLE,
  'azure-openai': OPENAI_COMPATIBLE,
  vllm: OPENAI_COMPATIBLE,
  'openai-compatible': OPENAI_COMPATIBLE,
};

export interface HeaderAllowlist {
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

export function headerAllowlist(entries: Iterable<string>): HeaderAllowlist {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const e of entries) {
    const name = e.toLowerCase();
    if (name.endsWith('*')) prefixes.push(name.slice(0, -1));
    else exact.add(name);
  }
  return { exact, prefixes };
}

/** `name` is lower-case, as Envoy hands headers over. */
export function allows(list: HeaderAllowlist, name: string): boolean {
  if (list.exact.has(name)) return true;
  for (const p of list.prefixes) if (name.startsWith(p)) return true;
  return false;
}

/** A name any of `lists` allows. */
export function unionOf(lists: readonly HeaderAllowlist[]): HeaderAllowlist {
  return { exact: new Set(lists.flatMap((l) => [...l.exact])), prefixes: [...new Set(lists.flatMap((l) => l.prefixes))] };
}

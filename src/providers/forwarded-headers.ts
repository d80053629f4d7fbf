/**
 * Which of a client's request headers a provider receives: an allowlist per provider, never a
 * denylist. A provider's API reads more headers than their names suggest — `OpenAI-Organization`
 * and `OpenAI-Project` choose which organization the gateway's key bills — and every header a new
 * SDK or browser sends would otherwise reach it next to the gateway's credential.
 *
 * Entries are lower-case names; one ending in `*` is a prefix (`x-stainless-*`). Each provider's
 * list is its adapter's `forwardedHeaders` (providers/<name>/adapter.ts).
 */

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

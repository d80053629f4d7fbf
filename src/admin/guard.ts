/**
 * Keeps browsers out of the admin API. A web page can make a browser on the admin's host send
 * requests to it two ways: straight to 127.0.0.1:9090, carrying the page's `Origin`; or, after
 * rebinding its own DNS name to 127.0.0.1, as same-origin requests carrying that name as `Host`.
 * `text/plain` and form bodies go out without a CORS preflight, so such a page could mint a key or
 * reload the config. No browser page is a client of this API, so:
 *
 * - the `Host` must name this server: an IP address (a rebinding page always uses a DNS name),
 *   `localhost`, the listen address, or a name in `server.admin.allowed_hosts`;
 * - a request carrying an `Origin` header (every cross-origin and every non-GET browser request) is
 *   refused, but for a GET from this server's own origin: the operator console (console.ts) reading;
 * - a PUT, POST or DELETE with a body or a content type says it is JSON (`content-type:
 *   application/json`), which no page can send cross-origin without a preflight this API never answers.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export interface Refusal {
  readonly status: 403 | 415;
  readonly error: string;
}

/** `name[:port]` or `[v6][:port]`; anything else (userinfo, paths, spaces) is not a Host a browser sends. */
const HOST = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]@/\\]+))(?::\d{1,5})?$/i;

/** The host names a request may use besides IP addresses and `localhost`, lower-cased. */
export function allowedHostNames(listenAddress: string, configured: readonly string[]): ReadonlySet<string> {
  const names = configured.map((h) => h.toLowerCase());
  return new Set(isIP(listenAddress) === 0 ? [...names, listenAddress.toLowerCase()] : names);
}

export function hostAllowed(header: string | undefined, names: ReadonlySet<string>): boolean {
  const m = HOST.exec(header ?? '');
  if (m === null) return false;
  if (m[1] !== undefined) return isIP(m[1]) === 6;
  const name = m[2]!.toLowerCase();
  return isIP(name) === 4 || name === 'localhost' || names.has(name);
}

const JSON_TYPE = /^application\/json\s*(?:;|$)/i;

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) !== 0;
}

/** Why the request may not reach any endpoint, or null. */
export function refusal(req: IncomingMessage, names: ReadonlySet<string>): Refusal | null {
  if (!hostAllowed(req.headers.host, names)) {
    return { status: 403, error: 'host not allowed: use an IP address or localhost, or list the name in server.admin.allowed_hosts' };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !(req.method === 'GET' && origin === `http://${req.headers.host}`)) {
    return { status: 403, error: 'browser requests (with an Origin header) are refused' };
  }
  const type = req.headers['content-type'];
  const mayCarryBody = req.method !== 'GET' && req.method !== 'HEAD';
  if (mayCarryBody && (type !== undefined || hasBody(req)) && !JSON_TYPE.test(type ?? '')) {
    return { status: 415, error: 'a request body must be JSON: content-type: application/json' };
  }
  return null;
}

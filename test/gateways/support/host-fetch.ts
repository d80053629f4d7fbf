/**
 * A `fetch` that sends a given Host header, for SDK clients of a gateway that routes by host
 * (Istio's virtual hosts) while the test reaches it at 127.0.0.1: the platform's fetch ignores a
 * Host header. Streams the response body as it arrives.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';

export function fetchWithHost(host: string): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = request(url, { method: init.method ?? 'GET', headers: { ...headers, host }, signal: init.signal ?? undefined }, (res) => {
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) out.append(name, v);
        const empty = res.statusCode === 204 || res.statusCode === 304;
        resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status: res.statusCode ?? 0, headers: out }));
      });
      req.on('error', reject);
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        req.destroy();
        reject(new Error(`fetchWithHost sends string or byte bodies, not ${Object.prototype.toString.call(body)}`));
        return;
      }
      req.end(body ?? undefined);
    });
}

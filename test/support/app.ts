/** An app that shares the gateway with the LLM routes, as the tests of scoping run it. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AppRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The app behind the non-LLM routes: it answers with what it received, at the status `x-app-status` asks for. */
export async function startApp(): Promise<{ server: Server; port: number; seen: AppRequest[] }> {
  const seen: AppRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(parts) });
      // Headers an LLM route removes from a provider's answer (x-llm-retry) or a provider sets.
      res.writeHead(Number(req.headers['x-app-status'] ?? 200), { 'content-type': 'text/plain', 'x-llm-retry': 'the-app-s-own', 'x-ratelimit-remaining-requests': '0' });
      res.end('the app answered');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

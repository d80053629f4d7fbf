/** The workloads and load shapes of a run; `--quick` keeps every kind, shorter and with fewer points. */
import type { Workload } from './load.js';

const messages = (chars: number) => [{ role: 'user', content: 'Summarise: ' + 'lorem ipsum dolor sit amet '.repeat(Math.ceil(chars / 27)).slice(0, chars) }];

/** One model per answer shape; the mock answers each as configured here, whatever gateway is in front. */
export const MODELS = {
  'bench-chat': {},
  'bench-stream-50': { chunks: 50, chunk_interval_ms: 2 },
  // Its first chunk, then silence until the client goes away: streams held open as long as measuring takes.
  'bench-open-stream': { chunks: 5, stall_after_chunks: 1 },
} as const;

/** A chat request to `model` with a prompt of `chars` characters, as a gateway's client sends it. */
export const chatBody = (model: string, chars: number, stream: boolean) =>
  Buffer.from(JSON.stringify({ model, ...(stream ? { stream: true } : {}), messages: messages(chars) }));

export const WORKLOADS = {
  'chat-1k': { name: 'chat-1k', stream: false, body: chatBody('bench-chat', 1000, false), headers: {} },
  'chat-100k': { name: 'chat-100k', stream: false, body: chatBody('bench-chat', 100_000, false), headers: {} },
  'stream-50': { name: 'stream-50', stream: true, body: chatBody('bench-stream-50', 1000, true), headers: {} },
} satisfies Record<string, Workload>;

export type Scenario =
  | { readonly kind: 'closed'; readonly workload: Workload; readonly concurrency: number; readonly durationMs: number }
  | { readonly kind: 'open'; readonly workload: Workload; readonly ratePerSec: number; readonly durationMs: number };

export function scenarioName(s: Scenario): string {
  return s.kind === 'closed' ? `${s.workload.name} closed c=${s.concurrency}` : `${s.workload.name} open ${s.ratePerSec}/s`;
}

export function scenarios(quick: boolean): Scenario[] {
  const closedMs = quick ? 1500 : 5000;
  const openMs = quick ? 2000 : 5000;
  const out: Scenario[] = [];
  for (const workload of Object.values(WORKLOADS)) {
    for (const concurrency of [1, 16, 64]) out.push({ kind: 'closed', workload, concurrency, durationMs: closedMs });
  }
  const rates = quick ? [200, 1000] : [200, 500, 1000, 1500, 2000];
  for (const ratePerSec of rates) out.push({ kind: 'open', workload: WORKLOADS['chat-1k'], ratePerSec, durationMs: openMs });
  out.push({ kind: 'open', workload: WORKLOADS['stream-50'], ratePerSec: 200, durationMs: openMs });
  return out;
}

/** Streams held open at once for the memory figure (the upstream stalls after the first chunk). */
export const OPEN_STREAMS = {
  count: 1000,
  workload: { name: 'open-streams', stream: true, body: chatBody('bench-open-stream', 1000, true), headers: {} },
} as const;

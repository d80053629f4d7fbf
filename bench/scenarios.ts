/** The workloads and load shapes of a run; `--quick` keeps every kind, shorter and with fewer points. */
import { GROUP } from './targets.js';
import type { Workload } from './load.js';

const messages = (chars: number) => [{ role: 'user', content: 'Summarise: ' + 'lorem ipsum dolor sit amet '.repeat(Math.ceil(chars / 27)).slice(0, chars) }];

export const WORKLOADS = {
  'chat-1k': { name: 'chat-1k', stream: false, body: Buffer.from(JSON.stringify({ model: GROUP, messages: messages(1000) })), headers: {} },
  'chat-100k': { name: 'chat-100k', stream: false, body: Buffer.from(JSON.stringify({ model: GROUP, messages: messages(100_000) })), headers: {} },
  'stream-50': {
    name: 'stream-50',
    stream: true,
    body: Buffer.from(JSON.stringify({ model: GROUP, stream: true, messages: messages(1000) })),
    headers: { 'x-mock-chunks': '50', 'x-mock-chunk-interval-ms': '2' },
  },
} satisfies Record<string, Workload>;

export type Scenario =
  | { readonly kind: 'closed'; readonly workload: Workload; readonly concurrency: number; readonly durationMs: number }
  | { readonly kind: 'open'; readonly workload: Workload; readonly ratePerSec: number; readonly durationMs: number };

export function scenarioName(s: Scenario): string {
  return s.kind === 'closed' ? `${s.workload.name} closed c=${s.concurrency}` : `${s.workload.name} open ${s.ratePerSec}/s`;
}

export function scenarios(quick: boolean): Scenario[] {
  const closedMs = quick ? 1500 : 8000;
  const openMs = quick ? 2000 : 8000;
  const out: Scenario[] = [];
  for (const workload of Object.values(WORKLOADS)) {
    for (const concurrency of [1, 16, 64]) out.push({ kind: 'closed', workload, concurrency, durationMs: closedMs });
  }
  const rates = quick ? [200, 1000] : [200, 500, 1000, 1500, 2000, 3000];
  for (const ratePerSec of rates) out.push({ kind: 'open', workload: WORKLOADS['chat-1k'], ratePerSec, durationMs: openMs });
  out.push({ kind: 'open', workload: WORKLOADS['stream-50'], ratePerSec: 200, durationMs: openMs });
  return out;
}

/** Streams held open at once for the memory figure: long time-to-first-token keeps them all open. */
export const OPEN_STREAMS = {
  count: 1000,
  workload: { ...WORKLOADS['stream-50'], name: 'open-streams', headers: { 'x-mock-ttft-ms': '3000', 'x-mock-chunks': '5', 'x-mock-chunk-interval-ms': '10' } },
} as const;

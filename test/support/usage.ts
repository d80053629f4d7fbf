/** Waiting for what the router writes after a response has ended (its usage records). */
import { waitUntil } from '../../src/devstack/processes.js';
import type { UsageRecord } from '../../src/state/store.js';
import type { Stack } from './stack.js';

/** The newest usage record `matches` accepts, once the router has written it. */
export async function recordWhere(stack: Pick<Stack, 'usageLog'>, matches: (r: UsageRecord) => boolean): Promise<UsageRecord> {
  let found: UsageRecord | undefined;
  await waitUntil(async () => (found = (await stack.usageLog(10)).find(matches)) !== undefined, 5_000, () => 'no such usage record');
  return found!;
}

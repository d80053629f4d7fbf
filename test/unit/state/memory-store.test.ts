import { expect, it } from 'vitest';
import { MemoryStore } from '../../../src/state/memory.js';
import { ledgerContract, loadContract, record, stateStoreContract } from '../../support/contracts/state-store.js';

const LOAD = { latencySamples: 20, latencyMaxAgeMs: 60_000 };

stateStoreContract('memory', async (maxLog) => new MemoryStore(maxLog, LOAD));
loadContract('memory', async () => new MemoryStore(10, LOAD));
ledgerContract('memory', async () => new MemoryStore(10, LOAD));

it('memory: the log is a ring that keeps the newest entries', async () => {
  const store = new MemoryStore(3, LOAD);
  for (let i = 0; i < 7; i++) await store.recordUsage(record({ requestId: `r${i}` }));
  expect((await store.usageLog(10)).map((r) => r.requestId)).toEqual(['r4', 'r5', 'r6']);
});

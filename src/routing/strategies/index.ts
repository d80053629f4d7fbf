/** Every routing strategy, one line per kind. router.yaml picks one per model group by name. */
import type { StrategyKind } from '../../config/compile.js';
import type { Strategy } from '../types.js';
import * as balanced from './balanced.js';
import * as costBased from './cost-based.js';
import * as latencyBased from './latency-based.js';
import * as leastBusy from './least-busy.js';
import * as usageBased from './usage-based.js';
import * as weightedRandom from './weighted-random.js';

export const strategies: Record<StrategyKind, () => Strategy> = {
  [weightedRandom.kind]: weightedRandom.create,
  [leastBusy.kind]: leastBusy.create,
  [latencyBased.kind]: latencyBased.create,
  [costBased.kind]: costBased.create,
  [usageBased.kind]: usageBased.create,
  [balanced.kind]: balanced.create,
} as Record<StrategyKind, () => Strategy>;

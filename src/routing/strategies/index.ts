/** Every routing strategy, one line per kind. router.yaml picks one per model group by name. */
import type { StrategyKind } from '../../config/compile.js';
import type { Strategy } from '../types.js';
import * as weightedRandom from './weighted-random.js';

export const strategies: Record<StrategyKind, () => Strategy> = {
  [weightedRandom.kind]: weightedRandom.create,
};

import type { RouterConfig } from '../config/compile.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { StateStore } from './store.js';

export function createStateStore(config: RouterConfig): StateStore {
  const s = config.state;
  const load = { latencySamples: s.latency_samples, latencyMaxAgeMs: s.latency_max_age_ms };
  if (s.kind === 'memory') return new MemoryStore(s.usage_log_max_entries, load);
  return new RedisStore({
    url: s.redis.url,
    keyPrefix: s.redis.key_prefix,
    commandTimeoutMs: s.redis.command_timeout_ms,
    maxLogEntries: s.usage_log_max_entries,
    load,
  });
}

import type { Logger } from 'pino';
import type { RouterConfig } from '../config/compile.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import { ResilientStore } from './resilient.js';
import type { StateStore } from './store.js';

/** Memory for one router; Redis, behind timeouts, a circuit breaker and a write queue, for replicas. */
export function createStateStore(config: RouterConfig, log: Logger): StateStore {
  const s = config.state;
  const load = { latencySamples: s.latency_samples, latencyMaxAgeMs: s.latency_max_age_ms };
  if (s.kind === 'memory') return new MemoryStore(s.usage_log_max_entries, load);
  const redis = new RedisStore({
    url: s.redis.url,
    keyPrefix: s.redis.key_prefix,
    commandTimeoutMs: s.redis.command_timeout_ms,
    maxLogEntries: s.usage_log_max_entries,
    load,
  });
  return new ResilientStore(redis, {
    hotPathTimeoutMs: s.redis.hot_path_timeout_ms,
    timeoutMs: s.redis.command_timeout_ms,
    breakerThreshold: s.redis.breaker_threshold,
    breakerOpenMs: s.redis.breaker_open_ms,
    maxQueuedWrites: s.redis.max_queued_writes,
    log,
  });
}

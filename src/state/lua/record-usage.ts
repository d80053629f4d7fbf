/**
 * One usage record, once: KEYS = the record's "seen" key, its per-day totals hashes (one per
 * dimension id: key, team, each tag, model, deployment, provider) and, last, the record log; ARGV = seen TTL (s), prompt, completion and total tokens,
 * cost (nano-USD), log length, the record as JSON, a cache hit and a cache miss (0 or 1 each), saved cost (nano-USD). A record already seen changes nothing, so a write
 * replayed after a Redis outage (which may have landed before the outage was noticed) counts once.
 */
export const RECORD_USAGE_LUA = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 2, #KEYS - 1 do
  redis.call('HINCRBY', KEYS[i], 'requests', 1)
  redis.call('HINCRBY', KEYS[i], 'prompt_tokens', ARGV[2])
  redis.call('HINCRBY', KEYS[i], 'completion_tokens', ARGV[3])
  redis.call('HINCRBY', KEYS[i], 'total_tokens', ARGV[4])
  redis.call('HINCRBY', KEYS[i], 'cost_nanos', ARGV[5])
  redis.call('HINCRBY', KEYS[i], 'cache_hits', ARGV[8])
  redis.call('HINCRBY', KEYS[i], 'cache_misses', ARGV[9])
  redis.call('HINCRBY', KEYS[i], 'saved_cost_nanos', ARGV[10])
end
redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', ARGV[6], '*', 'r', ARGV[7])
return 1
`;

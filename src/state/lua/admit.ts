/**
 * Admission, atomically in Redis: reserve every charge or none. KEYS[1] is the reservation (kept
 * until it is settled, ARGV[1] ms at most), then one meter hash per charge; per charge 5 arguments
 * (limit, amount, bucket, window buckets, ttl ms). A meter holds one field per bucket plus `open`
 * (reservations not settled); buckets older than the window are dropped as they are read.
 * Returns {0, used…} when all fitted, else {i, used, {bucket, amount, …}} for the first that did not.
 */
export const ADMIT_LUA = `
local n = #KEYS - 1
local used = {}
for i = 1, n do
  local a = 1 + (i - 1) * 5
  local key = KEYS[i + 1]
  local limit = tonumber(ARGV[a + 1])
  local amount = tonumber(ARGV[a + 2])
  local oldest = tonumber(ARGV[a + 3]) - tonumber(ARGV[a + 4]) + 1
  local fields = redis.call('HGETALL', key)
  local sum = 0
  local kept = {}
  local stale = {}
  for j = 1, #fields, 2 do
    local f = fields[j]
    if f ~= 'open' then
      if tonumber(f) < oldest then
        stale[#stale + 1] = f
      else
        sum = sum + tonumber(fields[j + 1])
        kept[#kept + 1] = f
        kept[#kept + 1] = fields[j + 1]
      end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if sum + amount > limit then return {i, tostring(sum), kept} end
  used[i] = sum + amount
end
for i = 1, n do
  local a = 1 + (i - 1) * 5
  redis.call('HINCRBY', KEYS[i + 1], ARGV[a + 3], ARGV[a + 2])
  redis.call('HINCRBY', KEYS[i + 1], 'open', 1)
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[a + 5])
  used[i] = tostring(used[i])
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return {0, used}
`;

/**
 * Settles a reservation once: KEYS[1] is the reservation, then one meter per settlement; per
 * settlement 4 arguments (bucket, delta, ttl ms, change of `open`: -1 for a reserved charge, 0 for
 * one no reservation stands for). A reservation already settled — or never made, when the admission
 * that timed out did not land — changes nothing, so a replayed settlement is safe.
 */
export const SETTLE_LUA = `
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do
  local a = (i - 2) * 4
  if tonumber(ARGV[a + 2]) ~= 0 then redis.call('HINCRBY', KEYS[i], ARGV[a + 1], ARGV[a + 2]) end
  if tonumber(ARGV[a + 4]) ~= 0 then redis.call('HINCRBY', KEYS[i], 'open', ARGV[a + 4]) end
  redis.call('PEXPIRE', KEYS[i], ARGV[a + 3])
end
return 1
`;

/**
 * Admission, atomically in Redis: reserve every charge or none. Per charge (5 arguments: limit,
 * amount, bucket, window buckets, ttl ms) the meter hash holds one field per bucket plus `open`
 * (reservations not settled). Buckets older than the window are dropped as they are read.
 * Returns {0, used…} when all fitted, else {i, used, {bucket, amount, …}} for the first that did not.
 */
export const ADMIT_LUA = `
local n = #KEYS
local used = {}
for i = 1, n do
  local a = (i - 1) * 5
  local limit = tonumber(ARGV[a + 1])
  local amount = tonumber(ARGV[a + 2])
  local oldest = tonumber(ARGV[a + 3]) - tonumber(ARGV[a + 4]) + 1
  local fields = redis.call('HGETALL', KEYS[i])
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
  if #stale > 0 then redis.call('HDEL', KEYS[i], unpack(stale)) end
  if sum + amount > limit then return {i, tostring(sum), kept} end
  used[i] = sum + amount
end
for i = 1, n do
  local a = (i - 1) * 5
  redis.call('HINCRBY', KEYS[i], ARGV[a + 3], ARGV[a + 2])
  redis.call('HINCRBY', KEYS[i], 'open', 1)
  redis.call('PEXPIRE', KEYS[i], ARGV[a + 5])
  used[i] = tostring(used[i])
end
return {0, used}
`;

// Lua shared by the scripts of the standalone tier (redis_tier.cc) and the
// cluster tier (cluster_cas.cc, cluster_tier.cc): whole scripts, and functions as
// string literals to paste after a script's "#!lua" line (adjacent literals
// are joined at compile time).
#pragma once

namespace catalog::storage {

// KEYS[1] a request expiry set; ARGV[1] a limit. Deletes up to ARGV[1]
// request entries whose expiry time (ms, the Redis clock) has passed, and
// their set entries; returns how many. It reads the entries' names from the
// set, so on a cluster they must share the set's hash tag (its slot).
// Score check and removal are one step, so an entry recorded again
// meanwhile (a new score) is never removed early.
inline constexpr char kExpireRequestsScript[] = R"lua(#!lua flags=allow-oom
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, key in ipairs(old) do redis.call('DEL', key) end
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
return #old
)lua";


// Returns {index, idle, value, ...} for up to ARGV[2] of the KEYS idle for
// at least ARGV[1] seconds. OBJECT IDLETIME does not touch a key; GET does,
// so only the keys returned are read.
inline constexpr char kIdleValuesScript[] = R"lua(#!lua flags=no-writes
local found = {}
local min_idle = tonumber(ARGV[1])
local room = tonumber(ARGV[2])
for i = 1, #KEYS do
  if room <= 0 then break end
  local idle = redis.call('OBJECT', 'IDLETIME', KEYS[i])
  if idle and idle >= min_idle then
    local value = redis.call('GET', KEYS[i])
    if value then
      found[#found + 1] = i
      found[#found + 1] = idle
      found[#found + 1] = value
      room = room - 1
    end
  end
end
return found
)lua";

// ARGV[1] = seconds since the scan read the keys; then per KEYS[i]:
// ARGV[2i] its value when scanned, ARGV[2i+1] its idle time then. A key
// still holding that value and untouched since the scan (its idle time,
// checked before anything here touches it, has run on since) gets the idle
// time it would have had: scan-time idle + elapsed. RESTORE ... IDLETIME
// rewrites the same value with that clock. A key a client used meanwhile is
// left alone. (Idle clocks tick in seconds, so a use within the first
// second after the scan is not told apart.)
inline constexpr char kRestoreIdleScript[] = R"lua(#!lua flags=allow-oom
local elapsed = tonumber(ARGV[1])
for i = 1, #KEYS do
  local idle = redis.call('OBJECT', 'IDLETIME', KEYS[i])
  if idle and idle + 1 >= elapsed and redis.call('GET', KEYS[i]) == ARGV[2 * i] then
    local dump = redis.call('DUMP', KEYS[i])
    redis.call('RESTORE', KEYS[i], 0, dump, 'REPLACE', 'IDLETIME', tonumber(ARGV[2 * i + 1]) + elapsed)
  end
end
return 1
)lua";

// The demotion lock. KEYS: the lock, the token counter (on a cluster, of
// one slot); ARGV: holder, ttl
// in ms, a floor for new tokens. The lock holds "<holder>\n<token>\n<expiry, ms of Redis's clock>".
// Neither key has a Redis TTL: under volatile-lru a TTL'd lock would be
// the first key evicted when Redis is full, which is when demotion is
// needed. The counter only grows. allow-oom: demotion is what frees memory.
inline constexpr char kAcquireLockScript[] = R"lua(#!lua flags=allow-oom
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local current = redis.call('GET', KEYS[1])
if current then
  local holder, token, expires = string.match(current, '^(.*)\n(%d+)\n(%d+)$')
  if not holder then return redis.error_reply('malformed demotion lock') end
  if tonumber(expires) > now then
    if holder ~= ARGV[1] then return {0, holder} end
    redis.call('SET', KEYS[1], holder .. '\n' .. token .. '\n' .. (now + tonumber(ARGV[2])))
    return {1, tonumber(token)}
  end
end
local floor = tonumber(ARGV[3])
if floor > (tonumber(redis.call('GET', KEYS[2])) or 0) then redis.call('SET', KEYS[2], floor) end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. token .. '\n' .. (now + tonumber(ARGV[2])))
return {1, token}
)lua";

// KEYS: the lock; ARGV: holder. Deletes it only if the holder has it.
inline constexpr char kReleaseLockScript[] = R"lua(#!lua flags=allow-oom
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '\n' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

// Views. KEYS: n view hashes, then their n fences; ARGV: variant, ttl ms,
// then per view its expected fence ('' absent, '=' .. token) and bytes.
// Adds data: refused whole when Redis is full (a view is only a cache).
inline constexpr char kFillViewsScript[] = R"lua(#!lua
local n = #KEYS / 2
for i = 1, n do
  local fence = redis.call('GET', KEYS[n + i])
  local want = ARGV[2 * i + 1]
  if (want == '' and not fence) or (fence and want == '=' .. fence) then
    redis.call('HSET', KEYS[i], ARGV[1], ARGV[2 * i + 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
)lua";

// KEYS: n view hashes, then their n fences; ARGV: variant ('' all), a
// token never written before. allow-oom: it frees memory, and a write
// must be able to invalidate before it is acknowledged.
inline constexpr char kInvalidateViewsScript[] = R"lua(#!lua flags=allow-oom
local n = #KEYS / 2
for i = 1, n do
  redis.call('SET', KEYS[n + i], ARGV[2])
  if ARGV[1] == '' then redis.call('DEL', KEYS[i]) else redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return 1
)lua";

}  // namespace catalog::storage

// expectation_holds(record_key, fence_key, expected, fence_expected): the
// record holds `expected` ('=' .. value), or (expected '') is absent with its
// fence as `fence_expected` ('' no fence, '=' .. token): storage/fence.h.
#define CATALOG_LUA_EXPECTATION_HOLDS                                                        \
  "local function expectation_holds(record_key, fence_key, expected, fence_expected)\n"      \
  "  local current = redis.call('GET', record_key)\n"                                        \
  "  if expected ~= '' then return current and current == string.sub(expected, 2) end\n"     \
  "  if current then return false end\n"                                                     \
  "  local fence = redis.call('GET', fence_key)\n"                                           \
  "  return (fence_expected == '' and not fence) or (fence and fence_expected == '=' .. fence)\n" \
  "end\n"

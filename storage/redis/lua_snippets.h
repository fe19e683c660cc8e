// Lua shared by the scripts of the standalone tier (redis_tier.cc) and the
// cluster transactions (cluster_cas.cc): whole scripts, and functions as
// string literals to paste after a script's "#!lua" line (adjacent literals
// are joined at compile time).
#pragma once

namespace catalog::storage {

// KEYS[1] a request expiry set; ARGV[1] a limit. Deletes up to ARGV[1]
// request entries whose expiry time (ms, the Redis clock) has passed, and
// their set entries; returns how many. It reads the entries' names from the
// set, so on a cluster they must share the set's hash tag (its slot).
inline constexpr char kExpireRequestsScript[] = R"lua(#!lua flags=allow-oom
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, key in ipairs(old) do redis.call('DEL', key) end
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
return #old
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

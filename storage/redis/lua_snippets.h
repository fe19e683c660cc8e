// Lua shared by the scripts of the standalone tier (redis_tier.cc) and the
// cluster transactions (cluster_cas.cc), as string literals to paste after
// a script's "#!lua" line (adjacent literals are joined at compile time).
#pragma once

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

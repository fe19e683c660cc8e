#include "storage/redis/redis_tier.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "storage/backend_errors.h"
#include "storage/fence.h"
#include "storage/redis/lua_snippets.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

// Fence expectations travel as "" (the fence must not exist) or "=" + token;
// values likewise where "absent" must be told from an empty value.
std::string Expectation(const std::optional<std::string>& value) {
  return value ? absl::StrCat("=", *value) : std::string();
}

// KEYS[2i-1] record key, KEYS[2i] its fence; ARGV[2i-1] value, ARGV[2i] the
// fence expectation. Stores a value only where the key is absent and the
// fence unchanged. EXISTS does not touch the key's idle clock.
constexpr char kPromoteScript[] = R"lua(#!lua
local stored = {}
for i = 1, #KEYS / 2 do
  stored[i] = 0
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 0 then
    local fence = redis.call('GET', KEYS[2 * i])
    local want = ARGV[2 * i]
    if (want == '' and not fence) or (fence and want == '=' .. fence) then
      redis.call('SET', KEYS[2 * i - 1], ARGV[2 * i - 1])
      stored[i] = 1
    end
  end
end
return stored
)lua";

// KEYS[1..n] record keys, KEYS[n+1..2n] their fences, then (with a request)
// the request key and the expiry set. ARGV[1] = n, ARGV[2] = request ttl in
// ms ('' without a request), ARGV[3] = request value; then per key i, from
// ARGV[3i+1]: expected ('' absent, '=' .. value), fence expectation (for an
// absent key), replacement ('' leave, '=' .. value).
// Returns {1} applied, {0} changed, {2, recorded} request already recorded.
constexpr char kCompareAndSetScript[] = "#!lua\n" CATALOG_LUA_EXPECTATION_HOLDS R"lua(
local n = tonumber(ARGV[1])
local with_request = ARGV[2] ~= ''
if with_request then
  local recorded = redis.call('GET', KEYS[2 * n + 1])
  if recorded then
    -- Rewritten as it is: a write of this connection, so a WAIT after the
    -- script covers the first call's write too (WAIT waits for the
    -- connection's own last write; a replay may come on another one).
    redis.call('SET', KEYS[2 * n + 1], recorded)
    return {2, recorded}
  end
end
for i = 1, n do
  if not expectation_holds(KEYS[i], KEYS[n + i], ARGV[3 * i + 1], ARGV[3 * i + 2]) then return {0} end
end
for i = 1, n do
  local replacement = ARGV[3 * i + 3]
  if replacement ~= '' then redis.call('SET', KEYS[i], string.sub(replacement, 2)) end
end
if with_request then
  local now = redis.call('TIME')
  local expires_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
  redis.call('SET', KEYS[2 * n + 1], ARGV[3])
  redis.call('ZADD', KEYS[2 * n + 2], expires_ms, KEYS[2 * n + 1])
end
return {1}
)lua";

// KEYS[1..n] record keys, KEYS[n+1..2n] their fences; ARGV[1..n] values,
// ARGV[n+1] a fresh fence token. Deletes each key still holding its value
// and fences its bucket in the same step. Allowed at maxmemory: it frees.
constexpr char kCompareAndDeleteScript[] = R"lua(#!lua flags=allow-oom
local n = #ARGV - 1
local token = ARGV[n + 1]
local deleted = {}
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    redis.call('SET', KEYS[n + i], token)
    deleted[i] = 1
  else
    deleted[i] = 0
  end
end
return deleted
)lua";

// KEYS: a request entry. Its value, rewritten as it is when present (see
// the compare-and-set script: so that a WAIT after it covers the write
// that recorded it). Used only when writes wait for replicas. allow-oom:
// rewriting a value in place does not grow memory, and replays must work
// when Redis is full.
constexpr char kGetRequestDurableScript[] = R"lua(#!lua flags=allow-oom
local recorded = redis.call('GET', KEYS[1])
if recorded then redis.call('SET', KEYS[1], recorded) end
return recorded
)lua";

absl::Status Unexpected(absl::string_view what, const redisReply& reply) {
  return absl::InternalError(absl::StrCat("redis ", what, ": unexpected reply type ", reply.type));
}

// A script's answer of one 0/1 per entry.
absl::StatusOr<std::vector<bool>> PerEntryFlags(const redisReply& reply, size_t count, absl::string_view what) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != count) return Unexpected(what, reply);
  std::vector<bool> flags(count);
  for (size_t i = 0; i < count; ++i) flags[i] = reply.element[i]->integer == 1;
  return flags;
}

std::string RandomTokenPrefix() {
  std::random_device device;
  return absl::StrCat(absl::Hex(static_cast<uint64_t>(device()) << 32 | device(), absl::kZeroPad16),
                      absl::Hex(static_cast<uint64_t>(device()) << 32 | device(), absl::kZeroPad16));
}

}  // namespace

RedisTier::RedisTier(RedisPool* pool, RecordType type, Metrics* metrics, AsyncRedis* async, RedisTierOptions options,
                     AsyncRedis* replica)
    : pool_(pool),
      type_(std::move(type)),
      metrics_(metrics),
      async_(async),
      replica_(replica),
      options_(options),
      token_prefix_(RandomTokenPrefix()) {
  auto operations = [metrics](AsyncRedis* to) -> std::unique_ptr<OperationMetrics> {
    if (to == nullptr) return nullptr;
    return std::make_unique<OperationMetrics>(metrics, HistogramFamily::redis_command_duration_seconds,
                                              CounterFamily::redis_command_errors_total,
                                              absl::StrCat("async ", to->endpoint()), RedisOperationNames());
  };
  async_operations_ = operations(async_);
  replica_operations_ = operations(replica_);
}

std::string RedisTier::Key(absl::string_view id) const { return absl::StrCat(type_.key_prefix, id); }

std::string RedisTier::Fence(absl::string_view id) const { return FenceKey(type_.fence_prefix, Key(id)); }

std::string RedisTier::NewFenceToken() {
  return absl::StrCat(token_prefix_, ":", token_counter_.fetch_add(1, std::memory_order_relaxed));
}

absl::Status RedisTier::ReplyError(const redisReply& reply, absl::string_view what) {
  absl::Status status = RedisErrorStatus(pool_->endpoint(), what, absl::string_view(reply.str, reply.len));
  if (IsRedisOutOfMemory(status)) metrics_->Add(Counter::redis_oom_errors_total);
  return status;
}

absl::StatusOr<RedisReplyPtr> RedisTier::One(RedisCommand command, absl::Time deadline, bool idempotent,
                                             absl::string_view what) {
  std::vector<RedisCommand> commands;
  commands.push_back(std::move(command));
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, idempotent);
  if (!replies.ok()) return replies.status();
  RedisReplyPtr reply = std::move(replies->front());
  if (reply->type == REDIS_REPLY_ERROR) return ReplyError(*reply, what);
  return reply;
}

RedisCommand RedisTier::WaitCommand(absl::Time deadline) const {
  // Within the caller's deadline (less a margin for the reply), so a short
  // deadline gets "not confirmed" rather than a dropped connection.
  const absl::Duration wait =
      std::min(options_.wait_timeout, deadline - absl::Now() - absl::Milliseconds(5));
  return {"WAIT", absl::StrCat(options_.write_replicas),
          absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(wait)))};
}

absl::Status RedisTier::CheckWait(const redisReply& reply, absl::string_view what) {
  if (reply.type == REDIS_REPLY_ERROR) return ReplyError(reply, "WAIT");
  if (reply.type != REDIS_REPLY_INTEGER) return Unexpected("WAIT", reply);
  if (reply.integer >= options_.write_replicas) return absl::OkStatus();
  metrics_->Add(Counter::redis_wait_short_total);
  return absl::UnavailableError(absl::StrCat(
      pool_->endpoint(), ": ", what, " applied on the master but confirmed by ", reply.integer, " of ",
      options_.write_replicas, " replicas within ", absl::FormatDuration(options_.wait_timeout),
      " (redis_write_replicas): it may be lost if the master fails now; retrying is safe"));
}

absl::StatusOr<RedisReplyPtr> RedisTier::Durable(RedisCommand command, absl::Time deadline, absl::string_view what,
                                                 absl::FunctionRef<bool(const redisReply&)> acknowledges) {
  if (options_.write_replicas <= 0) return One(std::move(command), deadline, /*idempotent=*/false, what);
  std::vector<RedisCommand> commands;
  commands.push_back(std::move(command));
  // Same connection, same round trip: WAIT covers everything this
  // connection wrote before it (the replication stream is ordered). Every
  // command sent through here writes when its outcome acknowledges
  // anything, so "before it" includes what is acknowledged.
  commands.push_back(WaitCommand(deadline));
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, /*idempotent=*/false);
  if (!replies.ok()) return replies.status();
  RedisReplyPtr reply = std::move((*replies)[0]);
  if (reply->type == REDIS_REPLY_ERROR) return ReplyError(*reply, what);
  if (acknowledges(*reply)) RETURN_IF_ERROR(CheckWait(*(*replies)[1], what));
  return reply;
}

RedisCommand RedisTier::MultiGetCommand(absl::Span<const std::string> ids) const {
  RedisCommand mget;
  mget.reserve(ids.size() + 1);
  mget.emplace_back("MGET");
  for (const std::string& id : ids) mget.push_back(Key(id));
  return mget;
}

absl::StatusOr<std::vector<ValueView>> RedisTier::MultiGetViews(const redisReply& reply, size_t count,
                                                                absl::string_view what) {
  if (reply.type == REDIS_REPLY_ERROR) return ReplyError(reply, what);
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != count) return Unexpected(what, reply);
  std::vector<ValueView> views(count);
  for (size_t i = 0; i < count; ++i) {
    const redisReply* element = reply.element[i];
    if (element->type == REDIS_REPLY_STRING) views[i] = absl::string_view(element->str, element->len);
  }
  return views;
}

absl::StatusOr<std::vector<MaybeValue>> RedisTier::MultiGet(absl::Span<const std::string> ids, absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      pool_->RoundTrip({MultiGetCommand(ids)}, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  ASSIGN_OR_RETURN(std::vector<ValueView> views, MultiGetViews(*replies->front(), ids.size(), "MGET"));
  return Owned(views);
}

void RedisTier::MultiGetAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) {
  if (async_ == nullptr) return PrimaryTier::MultiGetAsync(ids, deadline, std::move(done));
  SendMultiGet(async_, ids, deadline, std::move(done));
}

void RedisTier::MultiGetReplicaAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) {
  if (replica_ == nullptr) return PrimaryTier::MultiGetReplicaAsync(ids, deadline, std::move(done));
  SendMultiGet(replica_, ids, deadline, std::move(done));
}

void RedisTier::SendMultiGet(AsyncRedis* to, absl::Span<const absl::string_view> ids, absl::Time deadline,
                             ValuesDone done) {
  metrics_->Add(Counter::redis_round_trips_total);
  // Encoded straight into RESP: no key string per id.
  size_t bytes = 0;
  for (absl::string_view id : ids) bytes += type_.key_prefix.size() + id.size();
  RespCommand mget(ids.size() + 1, bytes);
  mget.Add("MGET");
  for (absl::string_view id : ids) mget.AddPrefixed(type_.key_prefix, id);
  OperationMetrics* operations = to == async_ ? async_operations_.get() : replica_operations_.get();
  to->SendFormatted(mget.Take(), deadline,
                    [this, operations, sent = absl::Now(), count = ids.size(),
                     done = std::move(done)](absl::StatusOr<const redisReply*> reply) {
                      operations->Record("MGET", absl::Now() - sent, /*failed=*/!reply.ok());
                      if (!reply.ok()) {
                        metrics_->Add(Counter::redis_errors_total);
                        return done(reply.status());
                      }
                      // Views into the reply: no copy until the response is built.
                      absl::StatusOr<std::vector<ValueView>> views = MultiGetViews(**reply, count, "MGET");
                      if (!views.ok()) return done(views.status());
                      done(absl::MakeConstSpan(*views));
                    });
}

absl::StatusOr<std::vector<FenceToken>> RedisTier::ReadFences(absl::Span<const std::string> ids, absl::Time deadline) {
  RedisCommand mget = {"MGET"};
  for (const std::string& id : ids) mget.push_back(Fence(id));
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      pool_->RoundTrip({std::move(mget)}, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  ASSIGN_OR_RETURN(std::vector<ValueView> tokens, MultiGetViews(*replies->front(), ids.size(), "MGET fences"));
  return Owned(tokens);
}

absl::StatusOr<FencedRead> RedisTier::MultiGetFenced(absl::Span<const std::string> ids, absl::Time deadline) {
  RedisCommand values = {"MGET"};
  RedisCommand fences = {"MGET"};
  for (const std::string& id : ids) {
    values.push_back(Key(id));
    fences.push_back(Fence(id));
  }
  // Pipelined on one connection: Redis runs the fence MGET after the value
  // MGET, which is the order the fence argument needs.
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      pool_->RoundTrip({std::move(values), std::move(fences)}, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  ASSIGN_OR_RETURN(std::vector<ValueView> value_views, MultiGetViews(*(*replies)[0], ids.size(), "MGET"));
  ASSIGN_OR_RETURN(std::vector<ValueView> fence_views, MultiGetViews(*(*replies)[1], ids.size(), "MGET fences"));
  return FencedRead{Owned(value_views), Owned(fence_views)};
}

absl::StatusOr<std::vector<bool>> RedisTier::Promote(absl::Span<const Promotion> entries, absl::Time deadline) {
  if (entries.empty()) return std::vector<bool>();
  RedisCommand eval = {"EVAL", kPromoteScript, absl::StrCat(2 * entries.size())};
  for (const Promotion& entry : entries) {
    eval.push_back(Key(entry.id));
    eval.push_back(Fence(entry.id));
  }
  for (const Promotion& entry : entries) {
    eval.push_back(entry.value);
    eval.push_back(Expectation(entry.fence));
  }
  // Not idempotent by retry: a second try after a lost reply would see its
  // own write and say "not stored". Harmless, but the count would lie.
  absl::StatusOr<RedisReplyPtr> reply = One(std::move(eval), deadline, /*idempotent=*/false, "promote");
  if (!reply.ok()) return reply.status();
  return PerEntryFlags(**reply, entries.size(), "promote");
}

absl::StatusOr<CasResult> RedisTier::CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                                   absl::Time deadline) {
  const size_t n = entries.size();
  RedisCommand eval = {"EVAL", kCompareAndSetScript, absl::StrCat(2 * n + (request ? 2 : 0))};
  for (const CasEntry& entry : entries) eval.push_back(Key(entry.id));
  for (const CasEntry& entry : entries) eval.push_back(Fence(entry.id));
  if (request != nullptr) {
    eval.push_back(absl::StrCat(type_.request_prefix, request->request_id));
    eval.push_back(type_.request_expiry_key);
  }
  eval.push_back(absl::StrCat(n));
  eval.push_back(request ? absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(request->ttl))) : "");
  eval.push_back(request ? request->value : "");
  for (const CasEntry& entry : entries) {
    eval.push_back(Expectation(entry.expected));
    eval.push_back(Expectation(entry.fence));
    eval.push_back(Expectation(entry.replacement));
  }
  // With redis_write_replicas, acknowledged only once replicated. A
  // refused compare-and-set (kChanged) acknowledges nothing: its WAIT does
  // not matter (the caller looks again).
  absl::StatusOr<RedisReplyPtr> reply =
      Durable(std::move(eval), deadline, "compare-and-set", [](const redisReply& r) {
        return !(r.type == REDIS_REPLY_ARRAY && r.elements >= 1 && r.element[0]->type == REDIS_REPLY_INTEGER &&
                 r.element[0]->integer == 0);
      });
  if (!reply.ok()) return reply.status();
  const redisReply& r = **reply;
  if (r.type != REDIS_REPLY_ARRAY || r.elements < 1 || r.element[0]->type != REDIS_REPLY_INTEGER) {
    return Unexpected("compare-and-set", r);
  }
  CasResult result;
  switch (r.element[0]->integer) {
    case 1:
      result.outcome = CasResult::Outcome::kApplied;
      break;
    case 0:
      result.outcome = CasResult::Outcome::kChanged;
      break;
    case 2:
      if (r.elements != 2 || r.element[1]->type != REDIS_REPLY_STRING) return Unexpected("compare-and-set", r);
      result.outcome = CasResult::Outcome::kRequestDone;
      result.recorded.assign(r.element[1]->str, r.element[1]->len);
      break;
    default:
      return Unexpected("compare-and-set", r);
  }
  return result;
}

absl::StatusOr<std::vector<bool>> RedisTier::CompareAndDelete(absl::Span<const IdValue> entries, absl::Time deadline) {
  if (entries.empty()) return std::vector<bool>();
  RedisCommand eval = {"EVAL", kCompareAndDeleteScript, absl::StrCat(2 * entries.size())};
  for (const IdValue& entry : entries) eval.push_back(Key(entry.id));
  for (const IdValue& entry : entries) eval.push_back(Fence(entry.id));
  for (const IdValue& entry : entries) eval.push_back(entry.value);
  eval.push_back(NewFenceToken());
  // Never resent (idempotent=false): a token must be written by at most one
  // execution. A resent command, or the first copy running late after a
  // timeout, would write the same token a second time, possibly over a newer
  // one, and a reader holding the old token would pass its check. A failed
  // compare-and-delete only ends this demotion run; the next run retries
  // with a fresh token.
  absl::StatusOr<RedisReplyPtr> reply = One(std::move(eval), deadline, /*idempotent=*/false, "compare-and-delete");
  if (!reply.ok()) return reply.status();
  return PerEntryFlags(**reply, entries.size(), "compare-and-delete");
}

absl::StatusOr<IdleScanPage> RedisTier::ScanIdle(uint64_t cursor, absl::Duration min_idle, int count, int max_values,
                                                 absl::Time deadline) {
  absl::StatusOr<RedisReplyPtr> scan =
      One({"SCAN", absl::StrCat(cursor), "MATCH", absl::StrCat(type_.key_prefix, "*"), "COUNT", absl::StrCat(count)},
          deadline, /*idempotent=*/true, "SCAN");
  if (!scan.ok()) return scan.status();
  const redisReply& page = **scan;
  if (page.type != REDIS_REPLY_ARRAY || page.elements != 2 || page.element[0]->type != REDIS_REPLY_STRING ||
      page.element[1]->type != REDIS_REPLY_ARRAY) {
    return Unexpected("SCAN", page);
  }
  IdleScanPage result;
  result.next_cursor = std::stoull(std::string(page.element[0]->str, page.element[0]->len));
  const redisReply& keys = *page.element[1];
  result.scanned = static_cast<int64_t>(keys.elements);
  if (keys.elements == 0 || max_values <= 0) return result;

  RedisCommand eval = {"EVAL", kIdleValuesScript, absl::StrCat(keys.elements)};
  for (size_t i = 0; i < keys.elements; ++i) eval.emplace_back(keys.element[i]->str, keys.element[i]->len);
  eval.push_back(absl::StrCat(absl::ToInt64Seconds(min_idle)));
  eval.push_back(absl::StrCat(max_values));
  absl::StatusOr<RedisReplyPtr> idle = One(std::move(eval), deadline, /*idempotent=*/true, "idle scan");
  if (!idle.ok()) return idle.status();
  if ((*idle)->type != REDIS_REPLY_ARRAY || (*idle)->elements % 3 != 0) return Unexpected("idle scan", **idle);
  for (size_t i = 0; i < (*idle)->elements; i += 3) {
    const size_t key_index = static_cast<size_t>((*idle)->element[i]->integer) - 1;
    if (key_index >= keys.elements) return Unexpected("idle scan", **idle);
    const absl::string_view key(keys.element[key_index]->str, keys.element[key_index]->len);
    const redisReply& value = *(*idle)->element[i + 2];
    result.idle.push_back(IdleValue{std::string(key.substr(type_.key_prefix.size())), std::string(value.str, value.len),
                                    (*idle)->element[i + 1]->integer});
  }
  return result;
}

absl::Status RedisTier::RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan,
                                    absl::Time deadline) {
  // A few keys per script: each one rewrites whole values, and Redis serves
  // nobody else while a script runs.
  constexpr size_t kPerScript = 50;
  for (size_t begin = 0; begin < entries.size(); begin += kPerScript) {
    const absl::Span<const IdleValue> chunk = entries.subspan(begin, kPerScript);
    RedisCommand eval = {"EVAL", kRestoreIdleScript, absl::StrCat(chunk.size())};
    for (const IdleValue& entry : chunk) eval.push_back(Key(entry.id));
    eval.push_back(absl::StrCat(absl::ToInt64Seconds(since_scan)));
    for (const IdleValue& entry : chunk) {
      eval.push_back(entry.value);
      eval.push_back(absl::StrCat(entry.idle_seconds));
    }
    // Safe to resend or to run late: it checks value and idle time first.
    absl::Status status = One(std::move(eval), deadline, /*idempotent=*/true, "restore idle").status();
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status RedisTier::IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<RedisCommand> commands;
  for (const IndexEntry& entry : entries) {
    commands.push_back({"ZADD", absl::StrCat(type_.index_prefix, entry.index), "0", entry.id});
  }
  if (options_.write_replicas > 0) {
    commands.push_back(WaitCommand(deadline));
  }
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < entries.size(); ++i) {
    if ((*replies)[i]->type == REDIS_REPLY_ERROR) return ReplyError(*(*replies)[i], "ZADD");
  }
  if (options_.write_replicas > 0) return CheckWait(*replies->back(), "index update");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RedisTier::IndexRange(const std::string& index, const std::string& after,
                                                               int limit, absl::Time deadline) {
  absl::StatusOr<RedisReplyPtr> reply =
      One({"ZRANGEBYLEX", absl::StrCat(type_.index_prefix, index), after.empty() ? "-" : absl::StrCat("(", after), "+",
           "LIMIT", "0", absl::StrCat(limit)},
          deadline, /*idempotent=*/true, "ZRANGEBYLEX");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_ARRAY) return Unexpected("ZRANGEBYLEX", **reply);
  std::vector<std::string> ids;
  for (size_t i = 0; i < (*reply)->elements; ++i)
    ids.emplace_back((*reply)->element[i]->str, (*reply)->element[i]->len);
  return ids;
}

absl::StatusOr<MaybeValue> RedisTier::GetRequest(const std::string& request_id, absl::Time deadline) {
  // A found entry answers the caller as an acknowledged write: with
  // redis_write_replicas it must be on the replicas first.
  absl::StatusOr<RedisReplyPtr> reply =
      options_.write_replicas > 0
          ? Durable({"EVAL", kGetRequestDurableScript, "1", absl::StrCat(type_.request_prefix, request_id)}, deadline,
                    "GET request")
          : One({"GET", absl::StrCat(type_.request_prefix, request_id)}, deadline, /*idempotent=*/true, "GET request");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type == REDIS_REPLY_NIL) return MaybeValue();
  if ((*reply)->type != REDIS_REPLY_STRING) return Unexpected("GET request", **reply);
  return MaybeValue(std::string((*reply)->str, (*reply)->len));
}

absl::StatusOr<int64_t> RedisTier::ExpireRequests(int limit, absl::Time deadline) {
  absl::StatusOr<RedisReplyPtr> reply =
      One({"EVAL", kExpireRequestsScript, "1", type_.request_expiry_key, absl::StrCat(limit)}, deadline,
          /*idempotent=*/true, "expire requests");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_INTEGER) return Unexpected("expire requests", **reply);
  return (*reply)->integer;
}

absl::StatusOr<LockGrant> RedisTier::AcquireDemotionLock(const std::string& holder, absl::Duration ttl,
                                                         int64_t token_floor, absl::Time deadline) {
  // Through Durable: with redis_write_replicas, a token is handed out only
  // once replicas have its increment, so a failover cannot hand it out again.
  absl::StatusOr<RedisReplyPtr> reply =
      Durable({"EVAL", kAcquireLockScript, "2", type_.demotion_lock_key, type_.demotion_token_key, holder,
               absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl))), absl::StrCat(token_floor)},
              deadline, "demotion lock", [](const redisReply& r) {
                // Refused (someone else holds it): nothing was written.
                return r.type == REDIS_REPLY_ARRAY && r.elements == 2 && r.element[0]->type == REDIS_REPLY_INTEGER &&
                       r.element[0]->integer == 1;
              });
  if (!reply.ok()) return reply.status();
  const redisReply& r = **reply;
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 2 || r.element[0]->type != REDIS_REPLY_INTEGER) {
    return Unexpected("demotion lock", r);
  }
  LockGrant grant;
  grant.held = r.element[0]->integer == 1;
  if (grant.held) {
    if (r.element[1]->type != REDIS_REPLY_INTEGER) return Unexpected("demotion lock", r);
    grant.token = r.element[1]->integer;
  } else {
    if (r.element[1]->type != REDIS_REPLY_STRING) return Unexpected("demotion lock", r);
    grant.holder.assign(r.element[1]->str, r.element[1]->len);
  }
  return grant;
}

absl::Status RedisTier::ReleaseDemotionLock(const std::string& holder, absl::Time deadline) {
  return One({"EVAL", kReleaseLockScript, "1", type_.demotion_lock_key, holder}, deadline, /*idempotent=*/true,
             "demotion lock release")
      .status();
}

std::string RedisTier::ViewKey(absl::string_view id) const { return absl::StrCat(type_.view_prefix, id); }

absl::StatusOr<ViewLookup> RedisTier::LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                                  absl::Time deadline) {
  ViewLookup out;
  if (ids.empty()) return out;
  std::vector<RedisCommand> commands;
  commands.reserve(ids.size() + 1);
  RedisCommand fences = {"MGET"};
  for (const std::string& id : ids) {
    commands.push_back({"HGET", ViewKey(id), variant});
    fences.push_back(FenceKey(type_.view_fence_prefix, ViewKey(id)));
  }
  commands.push_back(std::move(fences));
  ASSIGN_OR_RETURN(std::vector<RedisReplyPtr> replies, pool_->RoundTrip(commands, deadline, /*idempotent=*/true));
  out.views.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const redisReply& r = *replies[i];
    if (r.type == REDIS_REPLY_ERROR) return ReplyError(r, "HGET");
    if (r.type == REDIS_REPLY_STRING) out.views[i].emplace(r.str, r.len);
  }
  ASSIGN_OR_RETURN(std::vector<ValueView> tokens, MultiGetViews(*replies.back(), ids.size(), "MGET view fences"));
  out.fences.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (tokens[i].has_value()) out.fences[i].emplace(*tokens[i]);
  }
  return out;
}

absl::Status RedisTier::FillViews(absl::Span<const ViewFill> entries, const std::string& variant,
                                  absl::Time deadline) {
  if (entries.empty()) return absl::OkStatus();
  RedisCommand eval = {"EVAL", kFillViewsScript, absl::StrCat(2 * entries.size())};
  for (const ViewFill& entry : entries) eval.push_back(ViewKey(entry.id));
  for (const ViewFill& entry : entries) eval.push_back(FenceKey(type_.view_fence_prefix, ViewKey(entry.id)));
  eval.push_back(variant);
  eval.push_back(absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.view_ttl))));
  for (const ViewFill& entry : entries) {
    eval.push_back(Expectation(entry.fence));
    eval.push_back(entry.view);
  }
  // Safe to resend: a late copy checks the same fences.
  return One(std::move(eval), deadline, /*idempotent=*/true, "view fill").status();
}

absl::Status RedisTier::InvalidateViews(absl::Span<const std::string> ids, const std::string& variant,
                                        absl::Time deadline) {
  if (ids.empty()) return absl::OkStatus();
  RedisCommand eval = {"EVAL", kInvalidateViewsScript, absl::StrCat(2 * ids.size())};
  for (const std::string& id : ids) eval.push_back(ViewKey(id));
  for (const std::string& id : ids) eval.push_back(FenceKey(type_.view_fence_prefix, ViewKey(id)));
  eval.push_back(variant);
  eval.push_back(NewFenceToken());
  // Through Durable: with redis_write_replicas, a failover cannot lose the
  // invalidation of a write it keeps.
  return Durable(std::move(eval), deadline, "view invalidation").status();
}

}  // namespace catalog::storage

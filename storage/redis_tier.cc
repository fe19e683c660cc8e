#include "storage/redis_tier.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace catalog::storage {
namespace {

// KEYS[i]; ARGV[2i-1] = "" (key must be absent) or "=" .. expected value;
// ARGV[2i] = "" (leave key) or "=" .. replacement. The "=" prefix keeps an
// empty value distinct from "absent".
constexpr char kCompareAndSetScript[] = R"lua(
for i = 1, #KEYS do
  local expected = ARGV[2 * i - 1]
  local current = redis.call('GET', KEYS[i])
  if expected == '' then
    if current then return 0 end
  elseif (not current) or current ~= string.sub(expected, 2) then
    return 0
  end
end
for i = 1, #KEYS do
  local replacement = ARGV[2 * i]
  if replacement ~= '' then redis.call('SET', KEYS[i], string.sub(replacement, 2)) end
end
return 1
)lua";

// KEYS[i] is deleted if it holds ARGV[i]; returns 1/0 per key.
constexpr char kCompareAndDeleteScript[] = R"lua(
local deleted = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    deleted[i] = 1
  else
    deleted[i] = 0
  end
end
return deleted
)lua";

// Returns {index, value, ...} for the KEYS idle >= ARGV[1] seconds. OBJECT
// IDLETIME does not touch the key, so the scan itself makes nothing busy.
constexpr char kIdleValuesScript[] = R"lua(
local found = {}
local min_idle = tonumber(ARGV[1])
for i = 1, #KEYS do
  local idle = redis.call('OBJECT', 'IDLETIME', KEYS[i])
  if idle and idle >= min_idle then
    local value = redis.call('GET', KEYS[i])
    if value then
      found[#found + 1] = i
      found[#found + 1] = value
    end
  end
end
return found
)lua";

absl::Status Unexpected(absl::string_view what, const redisReply& reply) {
  return absl::InternalError(absl::StrCat("redis ", what, ": unexpected reply type ", reply.type));
}

}  // namespace

RedisTier::RedisTier(RedisPool* pool, RecordType type) : pool_(pool), type_(std::move(type)) {}

std::string RedisTier::Key(absl::string_view id) const { return absl::StrCat(type_.key_prefix, id); }

absl::StatusOr<RedisReplyPtr> RedisTier::One(RedisCommand command, absl::Time deadline, bool idempotent,
                                             absl::string_view what) {
  std::vector<RedisCommand> commands;
  commands.push_back(std::move(command));
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, idempotent);
  if (!replies.ok()) return replies.status();
  RedisReplyPtr reply = std::move(replies->front());
  if (reply->type == REDIS_REPLY_ERROR) return RedisReplyError(*reply, what);
  return reply;
}

absl::StatusOr<std::vector<MaybeValue>> RedisTier::MultiGet(absl::Span<const std::string> ids, absl::Time deadline) {
  RedisCommand mget;
  mget.reserve(ids.size() + 1);
  mget.emplace_back("MGET");
  for (const std::string& id : ids) mget.push_back(Key(id));
  absl::StatusOr<RedisReplyPtr> reply = One(std::move(mget), deadline, /*idempotent=*/true, "MGET");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_ARRAY || (*reply)->elements != ids.size()) return Unexpected("MGET", **reply);
  std::vector<MaybeValue> values(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const redisReply* element = (*reply)->element[i];
    if (element->type == REDIS_REPLY_STRING) values[i].emplace(element->str, element->len);
  }
  return values;
}

absl::StatusOr<std::vector<bool>> RedisTier::AddIfAbsent(absl::Span<const IdValue> entries, absl::Time deadline) {
  std::vector<RedisCommand> commands;
  commands.reserve(entries.size());
  for (const IdValue& entry : entries) commands.push_back({"SET", Key(entry.id), entry.value, "NX"});
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  std::vector<bool> stored(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const redisReply& reply = *(*replies)[i];
    if (reply.type == REDIS_REPLY_ERROR) return RedisReplyError(reply, "SET NX");
    stored[i] = reply.type == REDIS_REPLY_STATUS;  // "OK"; nil when the key existed.
  }
  return stored;
}

absl::StatusOr<bool> RedisTier::CompareAndSet(absl::Span<const CasEntry> entries, absl::Time deadline) {
  RedisCommand eval = {"EVAL", kCompareAndSetScript, absl::StrCat(entries.size())};
  for (const CasEntry& entry : entries) eval.push_back(Key(entry.id));
  for (const CasEntry& entry : entries) {
    eval.push_back(entry.expected ? absl::StrCat("=", *entry.expected) : "");
    eval.push_back(entry.replacement ? absl::StrCat("=", *entry.replacement) : "");
  }
  absl::StatusOr<RedisReplyPtr> reply = One(std::move(eval), deadline, /*idempotent=*/false, "compare-and-set");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_INTEGER) return Unexpected("compare-and-set", **reply);
  return (*reply)->integer == 1;
}

absl::StatusOr<std::vector<bool>> RedisTier::CompareAndDelete(absl::Span<const IdValue> entries, absl::Time deadline) {
  if (entries.empty()) return std::vector<bool>();
  RedisCommand eval = {"EVAL", kCompareAndDeleteScript, absl::StrCat(entries.size())};
  for (const IdValue& entry : entries) eval.push_back(Key(entry.id));
  for (const IdValue& entry : entries) eval.push_back(entry.value);
  absl::StatusOr<RedisReplyPtr> reply = One(std::move(eval), deadline, /*idempotent=*/true, "compare-and-delete");
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_ARRAY || (*reply)->elements != entries.size()) {
    return Unexpected("compare-and-delete", **reply);
  }
  std::vector<bool> deleted(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) deleted[i] = (*reply)->element[i]->integer == 1;
  return deleted;
}

absl::StatusOr<IdleScanPage> RedisTier::ScanIdle(uint64_t cursor, absl::Duration min_idle, int count,
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
  if (keys.elements == 0) return result;

  RedisCommand eval = {"EVAL", kIdleValuesScript, absl::StrCat(keys.elements)};
  for (size_t i = 0; i < keys.elements; ++i) eval.emplace_back(keys.element[i]->str, keys.element[i]->len);
  eval.push_back(absl::StrCat(absl::ToInt64Seconds(min_idle)));
  absl::StatusOr<RedisReplyPtr> idle = One(std::move(eval), deadline, /*idempotent=*/true, "idle scan");
  if (!idle.ok()) return idle.status();
  if ((*idle)->type != REDIS_REPLY_ARRAY || (*idle)->elements % 2 != 0) return Unexpected("idle scan", **idle);
  for (size_t i = 0; i < (*idle)->elements; i += 2) {
    const size_t key_index = static_cast<size_t>((*idle)->element[i]->integer) - 1;
    if (key_index >= keys.elements) return Unexpected("idle scan", **idle);
    const absl::string_view key(keys.element[key_index]->str, keys.element[key_index]->len);
    const redisReply& value = *(*idle)->element[i + 1];
    result.idle.push_back(IdValue{std::string(key.substr(type_.key_prefix.size())), std::string(value.str, value.len)});
  }
  return result;
}

absl::Status RedisTier::IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<RedisCommand> commands;
  for (const IndexEntry& entry : entries) {
    commands.push_back({"ZADD", absl::StrCat(type_.index_prefix, entry.index), "0", entry.id});
  }
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(commands, deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  for (const RedisReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) return RedisReplyError(*reply, "ZADD");
  }
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

}  // namespace catalog::storage

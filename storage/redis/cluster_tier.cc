#include "storage/redis/cluster_tier.h"

#include <hiredis/hiredis.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "storage/backend_errors.h"
#include "storage/fence.h"
#include "storage/redis/lua_snippets.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

absl::Status ReplyError(const OwnedReply& reply, absl::string_view what) {
  if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
  return RedisErrorStatus("redis cluster", what, reply.str);
}

absl::Status Unexpected(absl::string_view what, const OwnedReply& reply) {
  return absl::InternalError(absl::StrCat("redis cluster: ", what, ": unexpected reply type ", reply.type));
}

std::string Expectation(const FenceToken& token) { return token ? absl::StrCat("=", *token) : std::string(); }

ClusterCasOptions CasOptions(const ClusterTierOptions& options) {
  ClusterCasOptions cas;
  cas.stale_after = options.stale_after;
  return cas;
}

}  // namespace

ClusterTier::ClusterTier(RedisCluster* cluster, RecordType type, Metrics* metrics, ClusterTierOptions options)
    : cluster_(cluster),
      type_(std::move(type)),
      options_(options),
      cas_(cluster, type_, metrics, CasOptions(options)) {}

std::vector<std::string> ClusterTier::Keys(absl::Span<const std::string> ids, absl::string_view prefix) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(absl::StrCat(prefix, id));
  return keys;
}

std::string ClusterTier::ViewKey(absl::string_view id) const { return absl::StrCat(type_.view_prefix, id); }

std::string ClusterTier::LockKey() const { return absl::StrCat("{", type_.demotion_lock_key, "}"); }

std::string ClusterTier::LockTokenKey() const {
  return absl::StrCat("{", type_.demotion_lock_key, "}", type_.demotion_token_key);
}

absl::StatusOr<std::vector<MaybeValue>> ClusterTier::MultiGet(absl::Span<const std::string> ids,
                                                              absl::Time deadline) {
  return cluster_->MultiGet(Keys(ids, type_.key_prefix), deadline);
}

absl::StatusOr<std::vector<FenceToken>> ClusterTier::ReadFences(absl::Span<const std::string> ids,
                                                                absl::Time deadline) {
  std::vector<std::string> fences;
  fences.reserve(ids.size());
  for (const std::string& id : ids) fences.push_back(FenceKey(type_.fence_prefix, absl::StrCat(type_.key_prefix, id)));
  return cluster_->MultiGet(fences, deadline);
}

absl::StatusOr<FencedRead> ClusterTier::MultiGetFenced(absl::Span<const std::string> ids, absl::Time deadline) {
  // Two rounds, the fences after the values: a fence read before a key was
  // seen absent could miss the demotion that removed it.
  FencedRead read;
  ASSIGN_OR_RETURN(read.values, MultiGet(ids, deadline));
  ASSIGN_OR_RETURN(read.fences, ReadFences(ids, deadline));
  return read;
}

absl::StatusOr<std::vector<bool>> ClusterTier::Promote(absl::Span<const Promotion> entries, absl::Time deadline) {
  return cas_.Promote(entries, deadline);
}

absl::StatusOr<CasResult> ClusterTier::CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                                     absl::Time deadline) {
  return cas_.CompareAndSet(entries, request, deadline);
}

absl::StatusOr<std::vector<bool>> ClusterTier::CompareAndDelete(absl::Span<const IdValue> entries,
                                                                absl::Time deadline) {
  return cas_.CompareAndDelete(entries, deadline);
}

absl::StatusOr<IdleScanPage> ClusterTier::ScanIdle(uint64_t cursor, absl::Duration min_idle, int count,
                                                   int max_values, absl::Time deadline) {
  return cas_.ScanIdle(cursor, min_idle, count, max_values, deadline);
}

absl::Status ClusterTier::RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan,
                                      absl::Time deadline) {
  return cas_.RestoreIdle(entries, since_scan, deadline);
}

absl::Status ClusterTier::IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<SlotCommand> commands;
  commands.reserve(entries.size());
  for (const IndexEntry& entry : entries) {
    std::string key = absl::StrCat(type_.index_prefix, entry.index);
    const uint16_t slot = KeySlot(key);
    // Idempotent: a resent ZADD of the same member changes nothing.
    commands.push_back({slot, {"ZADD", std::move(key), "0", entry.id}, /*at_most_once=*/false});
  }
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  for (const OwnedReply& reply : replies) RETURN_IF_ERROR(ReplyError(reply, "ZADD"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ClusterTier::IndexRange(const std::string& index, const std::string& after,
                                                                 int limit, absl::Time deadline) {
  std::string key = absl::StrCat(type_.index_prefix, index);
  const uint16_t slot = KeySlot(key);
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies,
                   cluster_->Exec({{slot,
                                    {"ZRANGEBYLEX", std::move(key), after.empty() ? "-" : absl::StrCat("(", after),
                                     "+", "LIMIT", "0", absl::StrCat(limit)}}},
                                  deadline));
  OwnedReply& reply = replies[0];
  RETURN_IF_ERROR(ReplyError(reply, "ZRANGEBYLEX"));
  if (reply.type != REDIS_REPLY_ARRAY) return Unexpected("ZRANGEBYLEX", reply);
  std::vector<std::string> ids;
  ids.reserve(reply.elements.size());
  for (OwnedReply& id : reply.elements) ids.push_back(std::move(id.str));
  return ids;
}

absl::StatusOr<MaybeValue> ClusterTier::GetRequest(const std::string& request_id, absl::Time deadline) {
  return cas_.GetRequest(request_id, deadline);
}

absl::StatusOr<int64_t> ClusterTier::ExpireRequests(int limit, absl::Time deadline) {
  return cas_.ExpireRequests(limit, deadline);
}

absl::StatusOr<int64_t> ClusterTier::ResolveStale(absl::Time deadline) {
  return cas_.ResolveStale(options_.stale_after, deadline);
}

absl::StatusOr<OwnedReply> ClusterTier::OnLockSlot(RedisCommand command, absl::string_view what,
                                                   absl::Time deadline) {
  // At most once: a late copy of an acquire could take a lock its holder
  // has since released.
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies,
                   cluster_->Exec({{KeySlot(LockKey()), std::move(command), /*at_most_once=*/true}}, deadline));
  RETURN_IF_ERROR(ReplyError(replies[0], what));
  return std::move(replies[0]);
}

absl::StatusOr<LockGrant> ClusterTier::AcquireDemotionLock(const std::string& holder, absl::Duration ttl,
                                                           int64_t token_floor, absl::Time deadline) {
  ASSIGN_OR_RETURN(OwnedReply reply,
                   OnLockSlot({"EVAL", kAcquireLockScript, "2", LockKey(), LockTokenKey(), holder,
                               absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl))),
                               absl::StrCat(token_floor)},
                              "demotion lock", deadline));
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements.size() != 2 ||
      reply.elements[0].type != REDIS_REPLY_INTEGER) {
    return Unexpected("demotion lock", reply);
  }
  LockGrant grant;
  grant.held = reply.elements[0].integer == 1;
  if (grant.held) {
    if (reply.elements[1].type != REDIS_REPLY_INTEGER) return Unexpected("demotion lock", reply);
    grant.token = reply.elements[1].integer;
  } else {
    if (reply.elements[1].type != REDIS_REPLY_STRING) return Unexpected("demotion lock", reply);
    grant.holder = reply.elements[1].str;
  }
  return grant;
}

absl::Status ClusterTier::ReleaseDemotionLock(const std::string& holder, absl::Time deadline) {
  return OnLockSlot({"EVAL", kReleaseLockScript, "1", LockKey(), holder}, "demotion lock release", deadline)
      .status();
}

absl::StatusOr<ViewLookup> ClusterTier::LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                                    absl::Time deadline) {
  ViewLookup out;
  if (ids.empty()) return out;
  // Per id an HGET of its view and a GET of its fence (same slot), every
  // node at once.
  std::vector<SlotCommand> commands;
  commands.reserve(2 * ids.size());
  for (const std::string& id : ids) {
    std::string view = ViewKey(id);
    const uint16_t slot = KeySlot(view);
    std::string fence = FenceKey(type_.view_fence_prefix, view);
    commands.push_back({slot, {"HGET", std::move(view), variant}});
    commands.push_back({slot, {"GET", std::move(fence)}});
  }
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  out.views.resize(ids.size());
  out.fences.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    OwnedReply& view = replies[2 * i];
    OwnedReply& fence = replies[2 * i + 1];
    RETURN_IF_ERROR(ReplyError(view, "HGET view"));
    RETURN_IF_ERROR(ReplyError(fence, "GET view fence"));
    if (view.type == REDIS_REPLY_STRING) out.views[i] = std::move(view.str);
    if (fence.type == REDIS_REPLY_STRING) out.fences[i] = std::move(fence.str);
  }
  return out;
}

absl::Status ClusterTier::ViewScripts(
    const char* script, absl::Span<const std::string> ids, bool at_most_once,
    const std::function<std::vector<std::string>(const std::vector<size_t>&)>& args, absl::string_view what,
    absl::Time deadline) {
  std::map<uint16_t, std::vector<size_t>> by_slot;
  for (size_t i = 0; i < ids.size(); ++i) by_slot[KeySlot(ViewKey(ids[i]))].push_back(i);
  std::vector<SlotCommand> commands;
  for (const auto& [slot, indices] : by_slot) {
    SlotCommand command{slot, {"EVAL", script, absl::StrCat(2 * indices.size())}, at_most_once};
    for (size_t i : indices) command.command.push_back(ViewKey(ids[i]));
    for (size_t i : indices) command.command.push_back(FenceKey(type_.view_fence_prefix, ViewKey(ids[i])));
    for (std::string& arg : args(indices)) command.command.push_back(std::move(arg));
    commands.push_back(std::move(command));
  }
  if (commands.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  for (const OwnedReply& reply : replies) RETURN_IF_ERROR(ReplyError(reply, what));
  return absl::OkStatus();
}

absl::Status ClusterTier::FillViews(absl::Span<const ViewFill> entries, const std::string& variant,
                                    absl::Time deadline) {
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (const ViewFill& entry : entries) ids.push_back(entry.id);
  // Safe to resend: a late copy checks the same fences.
  return ViewScripts(
      kFillViewsScript, ids, /*at_most_once=*/false,
      [&](const std::vector<size_t>& indices) {
        std::vector<std::string> args = {variant,
                                         absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.view_ttl)))};
        for (size_t i : indices) {
          args.push_back(Expectation(entries[i].fence));
          args.push_back(entries[i].view);
        }
        return args;
      },
      "view fill", deadline);
}

absl::Status ClusterTier::InvalidateViews(absl::Span<const std::string> ids, const std::string& variant,
                                          absl::Time deadline) {
  // A fresh token per script, each sent at most once: a late copy would
  // put its token back over a newer invalidation's, and a fill that read
  // it could then store a view older than that invalidation.
  return ViewScripts(
      kInvalidateViewsScript, ids, /*at_most_once=*/true,
      [&](const std::vector<size_t>&) { return std::vector<std::string>{variant, RandomToken()}; },
      "view invalidation", deadline);
}

}  // namespace catalog::storage

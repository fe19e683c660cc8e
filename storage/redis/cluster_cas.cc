#include "storage/redis/cluster_cas.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "storage/backend_errors.h"
#include "storage/fence.h"
#include "storage/redis/lua_snippets.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

// Expectations travel as '' (absent) or '=' .. value, as on one Redis.
std::string Expectation(const std::optional<std::string>& value) {
  return value ? absl::StrCat("=", *value) : std::string();
}

// An intent's value: "<txn id>\n<txn key>\n<created ms>\n<replacement>",
// the replacement an expectation ('' leave the record as it is).
//
// Scripts: every key they touch is in KEYS and all of one slot (Redis
// Cluster refuses others: CROSSSLOT). Times come from the node's clock
// (TIME), never the caller's.

// KEYS[1] txn record, KEYS[2] open set, KEYS[3] request entry (optional).
// ARGV[1] txn id, ARGV[2] the ids (encoded, see EncodeIds).
// Returns {1} begun, {2, recorded} the request is recorded already.
// Idempotent: a second Begin of one id changes nothing.
constexpr char kBeginScript[] = R"lua(#!lua
if #KEYS >= 3 then
  local recorded = redis.call('GET', KEYS[3])
  if recorded then return {2, recorded} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], 'state', 'pending', 'created', now, 'ids', ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return {1}
)lua";

// Per id i: KEYS[3i-2] record, KEYS[3i-1] its fence, KEYS[3i] its intent.
// ARGV[1] txn id, ARGV[2] txn key; per id from ARGV[3i]: expected, fence
// expectation, replacement. Returns {1} prepared (intents written), {0} an
// expectation failed (nothing written), {3, intent, now ms, i} id i is held
// by another transaction (nothing written). Idempotent for one txn id.
constexpr char kPrepareScript[] = "#!lua\n" CATALOG_LUA_EXPECTATION_HOLDS R"lua(
local mark = ARGV[1] .. '\n'
local n = #KEYS / 3
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
for i = 1, n do
  local held = redis.call('GET', KEYS[3 * i])
  if held and string.sub(held, 1, #mark) ~= mark then return {3, held, now, i} end
end
for i = 1, n do
  if not expectation_holds(KEYS[3 * i - 2], KEYS[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]) then return {0} end
end
for i = 1, n do
  if not redis.call('GET', KEYS[3 * i]) then
    redis.call('SET', KEYS[3 * i], mark .. ARGV[2] .. '\n' .. now .. '\n' .. ARGV[3 * i + 2])
  end
end
return {1}
)lua";

// KEYS[1] txn record, then (with a request) KEYS[2] request entry, KEYS[3]
// expiry set. ARGV[1] request ttl ms, ARGV[2] request value.
// pending -> committed: {1}; aborted or gone (aborted and finished by
// someone else: commit is sent at most once): {0}; the request recorded
// meanwhile by another transaction: this one aborts, {2, recorded}.
constexpr char kCommitScript[] = R"lua(#!lua
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'committed' then return {1} end
if state ~= 'pending' then return {0} end
if #KEYS >= 3 then
  local recorded = redis.call('GET', KEYS[2])
  if recorded then
    redis.call('HSET', KEYS[1], 'state', 'aborted')
    return {2, recorded}
  end
  local t = redis.call('TIME')
  local expires_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[3], expires_ms, KEYS[2])
end
redis.call('HSET', KEYS[1], 'state', 'committed')
return {1}
)lua";

// KEYS[1] txn record. pending -> aborted; returns {state, ids}, or
// {'gone'} when the record does not exist (finished, or never begun: a
// late prepare's intent, which nothing can commit any more).
constexpr char kAbortScript[] = R"lua(#!lua flags=allow-oom
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'gone'} end
if state == 'pending' then
  state = 'aborted'
  redis.call('HSET', KEYS[1], 'state', state)
end
return {state, redis.call('HGET', KEYS[1], 'ids') or ''}
)lua";

// Per id i: KEYS[2i-1] record, KEYS[2i] intent. ARGV[1] txn id, ARGV[2]
// '1' apply, '0' release. Each intent still naming the txn is written to
// its record (apply) and deleted. Returns how many. Allowed at maxmemory:
// an applied intent frees what its record takes.
constexpr char kSettleScript[] = R"lua(#!lua flags=allow-oom
local mark = ARGV[1] .. '\n'
local settled = 0
for i = 1, #KEYS / 2 do
  local held = redis.call('GET', KEYS[2 * i])
  if held and string.sub(held, 1, #mark) == mark then
    if ARGV[2] == '1' then
      local p = string.find(held, '\n', #mark + 1, true)
      p = string.find(held, '\n', p + 1, true)
      local replacement = string.sub(held, p + 1)
      if replacement ~= '' then redis.call('SET', KEYS[2 * i - 1], string.sub(replacement, 2)) end
    end
    redis.call('DEL', KEYS[2 * i])
    settled = settled + 1
  end
end
return settled
)lua";

// KEYS[1] txn record, KEYS[2] open set; ARGV[1] txn id.
constexpr char kFinishScript[] = R"lua(#!lua flags=allow-oom
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
)lua";

// Per entry i: KEYS[3i-2] record, KEYS[3i-1] fence, KEYS[3i] intent;
// ARGV[2i-1] value, ARGV[2i] fence expectation. Stores where the record is
// absent, no intent holds it and the fence is as expected. Returns 0/1 each.
constexpr char kPromoteScript[] = "#!lua\n" CATALOG_LUA_EXPECTATION_HOLDS R"lua(
local stored = {}
for i = 1, #KEYS / 3 do
  stored[i] = 0
  -- EXISTS first: a refused write-back must not touch a present record's
  -- idle clock (GET would).
  if redis.call('EXISTS', KEYS[3 * i - 2]) == 0 and redis.call('EXISTS', KEYS[3 * i]) == 0 and
     expectation_holds(KEYS[3 * i - 2], KEYS[3 * i - 1], '', ARGV[2 * i]) then
    redis.call('SET', KEYS[3 * i - 2], ARGV[2 * i - 1])
    stored[i] = 1
  end
end
return stored
)lua";

// Per entry i: KEYS[3i-2] record, KEYS[3i-1] fence, KEYS[3i] intent;
// ARGV[i] value, ARGV[n+1] a fresh fence token. Deletes where the record
// holds the value and no intent holds it, fencing its bucket in the same
// step. Allowed at maxmemory: it frees. Returns 0/1 each.
constexpr char kCompareAndDeleteScript[] = R"lua(#!lua flags=allow-oom
local n = #KEYS / 3
local deleted = {}
for i = 1, n do
  deleted[i] = 0
  if redis.call('EXISTS', KEYS[3 * i]) == 0 and redis.call('GET', KEYS[3 * i - 2]) == ARGV[i] then
    redis.call('DEL', KEYS[3 * i - 2])
    redis.call('SET', KEYS[3 * i - 1], ARGV[n + 1])
    deleted[i] = 1
  end
end
return deleted
)lua";

// KEYS: intent keys of one slot; ARGV[1] age ms. Returns {i, value, ...}
// for those written at least ARGV[1] ago (node clock).
constexpr char kOldIntentsScript[] = R"lua(#!lua flags=no-writes
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = {}
for i = 1, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held then
    local first = string.find(held, '\n', 1, true)
    local second = first and string.find(held, '\n', first + 1, true)
    local third = second and string.find(held, '\n', second + 1, true)
    local created = third and tonumber(string.sub(held, second + 1, third - 1))
    if created and now - created >= tonumber(ARGV[1]) then
      old[#old + 1] = i
      old[#old + 1] = held
    end
  end
end
return old
)lua";

// KEYS[1] open set; ARGV[1] age ms, ARGV[2] limit. Txn ids opened at
// least ARGV[1] ago (node clock).
constexpr char kStaleScript[] = R"lua(#!lua flags=no-writes
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', cutoff), 'LIMIT', 0, tonumber(ARGV[2]))
)lua";

// Ids travel in the transaction record as "<length>:<id>" one after another
// (ids may hold any byte).
std::string EncodeIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) absl::StrAppend(&out, id.size(), ":", id);
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeIds(absl::string_view in) {
  std::vector<std::string> ids;
  while (!in.empty()) {
    const size_t colon = in.find(':');
    size_t length = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(in.substr(0, colon), &length) ||
        length > in.size() - colon - 1) {
      return absl::InternalError("redis cluster: a transaction record's ids are malformed");
    }
    ids.emplace_back(in.substr(colon + 1, length));
    in.remove_prefix(colon + 1 + length);
  }
  return ids;
}

// A script's error reply (OOM, a script bug) as a status; OK otherwise.
absl::Status ReplyError(const OwnedReply& reply, absl::string_view what) {
  if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
  return RedisErrorStatus("redis cluster", what, reply.str);
}

absl::Status Unexpected(absl::string_view what) {
  return absl::InternalError(absl::StrCat("redis cluster: ", what, ": unexpected reply"));
}

// The first element of an array reply as an integer, or -1.
long long Code(const OwnedReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements.empty() || reply.elements[0].type != REDIS_REPLY_INTEGER) {
    return -1;
  }
  return reply.elements[0].integer;
}

}  // namespace

ClusterCas::ClusterCas(RedisCluster* cluster, const RecordType& type, Metrics* metrics, ClusterCasOptions options)
    : cluster_(cluster), type_(type), metrics_(metrics), options_(options) {}

std::string ClusterCas::IntentKey(absl::string_view id) const {
  const std::string record = absl::StrCat(type_.key_prefix, id);
  return absl::StrCat(type_.txn_prefix, "intent:{", SlotTag(KeySlot(record)), "}", id);
}

std::string ClusterCas::BucketTag(absl::string_view name) const {
  const int bucket = KeySlot(name) % kBuckets;
  return absl::StrCat("{", SlotTag(static_cast<uint16_t>(bucket * (kSlotCount / kBuckets))), "}");
}

// The keys of one transaction.
struct ClusterCas::Txn {
  std::string id;
  std::string tag;  // Its bucket's "{tag}".
  std::string key;
  std::string open_set;
  std::vector<std::string> ids;
};

absl::StatusOr<CasResult> ClusterCas::CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                                    absl::Time deadline) {
  absl::Duration backoff = options_.first_backoff;
  thread_local std::mt19937_64 random(std::random_device{}());
  for (;;) {
    CasResult result;
    std::string blocker;
    ASSIGN_OR_RETURN(Attempt attempt, TryOnce(entries, request, deadline, &result, &blocker));
    switch (attempt) {
      case Attempt::kApplied:
        result.outcome = CasResult::Outcome::kApplied;
        return result;
      case Attempt::kChanged:
        result.outcome = CasResult::Outcome::kChanged;
        return result;
      case Attempt::kRequestDone:
        result.outcome = CasResult::Outcome::kRequestDone;
        return result;
      case Attempt::kBusy:
        break;
    }
    // Another transaction holds one of the ids; this one has let go of
    // everything. A random pause breaks ties between two writers.
    metrics_->Add(Counter::cluster_txn_busy_total);
    const absl::Duration pause = absl::Nanoseconds(std::uniform_int_distribution<int64_t>(
        0, std::max<int64_t>(1, absl::ToInt64Nanoseconds(backoff)))(random));
    if (absl::Now() + pause >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("redis cluster: deadline exceeded while another write held the ids (", blocker, ")"));
    }
    absl::SleepFor(pause);
    backoff = std::min(backoff * 2, absl::Milliseconds(100));
  }
}

absl::StatusOr<ClusterCas::Attempt> ClusterCas::TryOnce(absl::Span<const CasEntry> entries,
                                                        const RequestEntry* request, absl::Time deadline,
                                                        CasResult* result, std::string* blocker) {
  Txn txn;
  txn.id = RandomToken();
  txn.tag = BucketTag(request != nullptr ? request->request_id : txn.id);
  txn.key = absl::StrCat(type_.txn_prefix, txn.tag, txn.id);
  txn.open_set = absl::StrCat(type_.txn_prefix, "open", txn.tag);
  for (const CasEntry& entry : entries) txn.ids.push_back(entry.id);
  const uint16_t bucket_slot = KeySlot(txn.key);
  const std::string request_key =
      request != nullptr ? absl::StrCat(type_.request_prefix, txn.tag, request->request_id) : "";

  // 1. Begin. A lost reply abandons T: a late copy only leaves a pending
  // record with no intents, which the sweep aborts.
  {
    SlotCommand begin{bucket_slot, {"EVAL", kBeginScript, request ? "3" : "2", txn.key, txn.open_set}, true};
    if (request != nullptr) begin.command.push_back(request_key);
    begin.command.push_back(txn.id);
    begin.command.push_back(EncodeIds(txn.ids));
    ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec({std::move(begin)}, deadline));
    RETURN_IF_ERROR(ReplyError(replies[0], "begin"));
    const long long code = Code(replies[0]);
    if (code == 2 && replies[0].elements.size() == 2) {
      ASSIGN_OR_RETURN(result->recorded, RecordedAnswer(replies[0].elements[1].str, deadline));
      return Attempt::kRequestDone;
    }
    if (code != 1) return Unexpected("begin");
  }
  AfterStep(Step::kBegun, txn.key);

  // Whatever goes wrong before the commit, this transaction lets go (abort,
  // release, finish) before it answers; if that fails too, the sweep or
  // the next writer of one of the ids finishes it. Cleanup may run a little
  // past the caller's deadline so a call that timed out leaves nothing.
  auto let_go = [&] {
    metrics_->Add(Counter::cluster_txn_aborts_total);
    (void)Resolve(txn.key, txn.ids, std::max(deadline, absl::Now() + absl::Milliseconds(200)));
  };

  // 2. Prepare, one script per slot, every node at once, at most once each.
  const std::map<uint16_t, std::vector<size_t>> by_slot =
      BySlot([&](size_t i) -> const std::string& { return entries[i].id; }, entries.size());
  std::vector<SlotCommand> prepares;
  for (const auto& [slot, indices] : by_slot) {
    SlotCommand prepare{slot, {"EVAL", kPrepareScript, absl::StrCat(3 * indices.size())}, true};
    for (size_t i : indices) {
      const std::string record = absl::StrCat(type_.key_prefix, entries[i].id);
      prepare.command.push_back(record);
      prepare.command.push_back(FenceKey(type_.fence_prefix, record));
      prepare.command.push_back(IntentKey(entries[i].id));
    }
    prepare.command.push_back(txn.id);
    prepare.command.push_back(txn.key);
    for (size_t i : indices) {
      prepare.command.push_back(Expectation(entries[i].expected));
      prepare.command.push_back(Expectation(entries[i].fence));
      prepare.command.push_back(Expectation(entries[i].replacement));
    }
    prepares.push_back(std::move(prepare));
  }
  absl::StatusOr<std::vector<OwnedReply>> prepared = cluster_->Exec(std::move(prepares), deadline);
  if (!prepared.ok()) {
    let_go();
    return prepared.status();
  }
  bool changed = false;
  // Transactions in the way, (txn key, id), that are older than stale_after.
  std::vector<std::pair<std::string, std::string>> stale;
  for (size_t k = 0; k < prepared->size(); ++k) {
    const OwnedReply& reply = (*prepared)[k];
    if (absl::Status error = ReplyError(reply, "prepare"); !error.ok()) {
      let_go();
      return error;
    }
    const long long code = Code(reply);
    if (code == 0) {
      changed = true;
    } else if (code == 3 && reply.elements.size() == 4) {
      // "<txn id>\n<txn key>\n<created>\n..." and the node's time.
      const std::vector<absl::string_view> parts = absl::StrSplit(reply.elements[1].str, absl::MaxSplits('\n', 3));
      int64_t created = 0, now = 0;
      const std::vector<size_t>& indices = std::next(by_slot.begin(), static_cast<long>(k))->second;
      const long long index = reply.elements[3].integer;
      if (parts.size() != 4 || !absl::SimpleAtoi(parts[2], &created) ||
          !absl::SimpleAtoi(reply.elements[2].str, &now) || index < 1 ||
          static_cast<size_t>(index) > indices.size()) {
        let_go();
        return Unexpected("prepare");
      }
      *blocker = std::string(parts[1]);
      if (now - created >= absl::ToInt64Milliseconds(options_.stale_after)) {
        stale.emplace_back(std::string(parts[1]), entries[indices[index - 1]].id);
      }
    } else if (code != 1) {
      let_go();
      return Unexpected("prepare");
    }
  }
  if (changed) {
    let_go();
    return Attempt::kChanged;
  }
  if (!blocker->empty()) {
    let_go();
    // Stale ones are resolved now (aborted if pending, applied if
    // committed); their writers, if they ever resume, find their commit
    // refused or their work done.
    for (const auto& [key, id] : stale) {
      RETURN_IF_ERROR(Resolve(key, {id}, deadline).status());
      metrics_->Add(Counter::cluster_txn_resolved_total);
    }
    return Attempt::kBusy;
  }
  AfterStep(Step::kPrepared, txn.key);

  // 3. Commit: the one step that decides, sent at most once. (So "gone"
  // here can only mean that someone aborted and finished T.)
  {
    SlotCommand commit{bucket_slot, {"EVAL", kCommitScript, request ? "3" : "1", txn.key}, true};
    if (request != nullptr) {
      commit.command.push_back(request_key);
      commit.command.push_back(absl::StrCat(type_.request_expiry_key, txn.tag));
      commit.command.push_back(absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(request->ttl))));
      commit.command.push_back(absl::StrCat(txn.key, "\n", request->value));
    }
    absl::StatusOr<std::vector<OwnedReply>> committed = cluster_->Exec({std::move(commit)}, deadline);
    absl::Status error = committed.ok() ? ReplyError((*committed)[0], "commit") : committed.status();
    const long long code = error.ok() ? Code((*committed)[0]) : -1;
    if (code == 0 || code == 2) {
      let_go();
      if (code == 2 && (*committed)[0].elements.size() == 2) {
        ASSIGN_OR_RETURN(result->recorded, RecordedAnswer((*committed)[0].elements[1].str, deadline));
        return Attempt::kRequestDone;
      }
      return Attempt::kChanged;  // Aborted by another writer meanwhile.
    }
    if (code != 1) {
      if (error.ok()) error = Unexpected("commit");
      // The outcome is unknown: settle it. Abort wins if the commit did
      // not run; if it did, the batch is applied here.
      absl::StatusOr<Settled> settled =
          Resolve(txn.key, txn.ids, std::max(deadline, absl::Now() + absl::Milliseconds(200)));
      if (settled.ok() && *settled == Settled::kCommitted) {
        metrics_->Add(Counter::cluster_txn_commits_total);
        return Attempt::kApplied;
      }
      if (settled.ok() && *settled == Settled::kAborted) {
        return absl::Status(error.code(), absl::StrCat(error.message(), "; nothing was written"));
      }
      return absl::UnavailableError(absl::StrCat(
          error.message(), "; outcome unknown (the write may have been applied by another caller): read it back, or "
                           "retry with a request id"));
    }
  }
  metrics_->Add(Counter::cluster_txn_commits_total);
  AfterStep(Step::kCommitted, txn.key);

  // 4. Apply, 5. Finish.
  absl::Status applied = Settle(txn.id, txn.ids, /*apply=*/true, deadline);
  if (!applied.ok()) {
    return absl::UnavailableError(absl::StrCat("redis cluster: the write is committed but not yet applied on every "
                                               "node (it will be; a read may still see old values): ",
                                               applied.message()));
  }
  AfterStep(Step::kApplied, txn.key);
  (void)Finish(txn.key, txn.id, deadline);  // Else the sweep finishes it.
  return Attempt::kApplied;
}

absl::StatusOr<ClusterCas::Settled> ClusterCas::Resolve(const std::string& txn_key,
                                                        absl::Span<const std::string> known_ids,
                                                        absl::Time deadline) {
  // The txn id is the key's tail after the bucket tag.
  const size_t close = txn_key.find('}', type_.txn_prefix.size());
  if (!absl::StartsWith(txn_key, type_.txn_prefix) || close == std::string::npos) {
    return absl::InternalError(absl::StrCat("redis cluster: not a transaction key: ", txn_key));
  }
  const std::string txn_id = txn_key.substr(close + 1);
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies,
                   cluster_->Exec({{KeySlot(txn_key), {"EVAL", kAbortScript, "1", txn_key}}}, deadline));
  RETURN_IF_ERROR(ReplyError(replies[0], "abort"));
  const OwnedReply& reply = replies[0];
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements.empty()) return Unexpected("abort");
  const std::string& state = reply.elements[0].str;
  std::vector<std::string> ids;
  if (state != "gone") {
    if (reply.elements.size() != 2) return Unexpected("abort");
    ASSIGN_OR_RETURN(ids, DecodeIds(reply.elements[1].str));
  }
  for (const std::string& id : known_ids) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  const Settled settled = state == "committed" ? Settled::kCommitted
                          : state == "gone"    ? Settled::kGone
                                               : Settled::kAborted;
  // Gone: finished after being applied or released; an intent that still
  // names it came from nothing that can commit any more.
  RETURN_IF_ERROR(Settle(txn_id, ids, /*apply=*/settled == Settled::kCommitted, deadline));
  if (settled != Settled::kGone) RETURN_IF_ERROR(Finish(txn_key, txn_id, deadline));
  return settled;
}

absl::StatusOr<std::string> ClusterCas::RecordedAnswer(const std::string& recorded, absl::Time deadline) {
  const size_t newline = recorded.find('\n');
  if (newline == std::string::npos) return Unexpected("request entry");
  // Committed (it recorded the request) or gone: either way applied once
  // this returns.
  RETURN_IF_ERROR(Resolve(recorded.substr(0, newline), {}, deadline).status());
  return recorded.substr(newline + 1);
}

absl::Status ClusterCas::Settle(const std::string& txn_id, const std::vector<std::string>& ids, bool apply,
                                absl::Time deadline) {
  std::map<uint16_t, std::vector<const std::string*>> by_slot;
  for (const std::string& id : ids) by_slot[KeySlot(absl::StrCat(type_.key_prefix, id))].push_back(&id);
  std::vector<SlotCommand> commands;
  for (const auto& [slot, slot_ids] : by_slot) {
    SlotCommand settle{slot, {"EVAL", kSettleScript, absl::StrCat(2 * slot_ids.size())}};
    for (const std::string* id : slot_ids) {
      settle.command.push_back(absl::StrCat(type_.key_prefix, *id));
      settle.command.push_back(IntentKey(*id));
    }
    settle.command.push_back(txn_id);
    settle.command.push_back(apply ? "1" : "0");
    commands.push_back(std::move(settle));
  }
  if (commands.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  for (const OwnedReply& reply : replies) {
    RETURN_IF_ERROR(ReplyError(reply, apply ? "apply" : "release"));
    if (reply.type != REDIS_REPLY_INTEGER) return Unexpected(apply ? "apply" : "release");
  }
  return absl::OkStatus();
}

absl::Status ClusterCas::Finish(const std::string& txn_key, const std::string& txn_id, absl::Time deadline) {
  const std::string open_set =
      absl::StrCat(type_.txn_prefix, "open", txn_key.substr(type_.txn_prefix.size(),
                                                            txn_key.find('}', type_.txn_prefix.size()) + 1 -
                                                                type_.txn_prefix.size()));
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies,
                   cluster_->Exec({{KeySlot(txn_key), {"EVAL", kFinishScript, "2", txn_key, open_set, txn_id}}},
                                  deadline));
  return ReplyError(replies[0], "finish");
}


absl::StatusOr<MaybeValue> ClusterCas::GetRequest(const std::string& request_id, absl::Time deadline) {
  const std::string key = absl::StrCat(type_.request_prefix, BucketTag(request_id), request_id);
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec({{KeySlot(key), {"GET", key}}}, deadline));
  RETURN_IF_ERROR(ReplyError(replies[0], "GET"));
  if (replies[0].type == REDIS_REPLY_NIL) return MaybeValue();
  if (replies[0].type != REDIS_REPLY_STRING) return Unexpected("GET");
  ASSIGN_OR_RETURN(std::string answer, RecordedAnswer(replies[0].str, deadline));
  return MaybeValue(std::move(answer));
}

std::map<uint16_t, std::vector<size_t>> ClusterCas::BySlot(const std::function<const std::string&(size_t)>& id,
                                                           size_t n) const {
  std::map<uint16_t, std::vector<size_t>> by_slot;
  for (size_t i = 0; i < n; ++i) by_slot[KeySlot(absl::StrCat(type_.key_prefix, id(i)))].push_back(i);
  return by_slot;
}

absl::StatusOr<std::vector<bool>> ClusterCas::PerSlotFlags(const char* script, size_t n,
                                                           const std::function<const std::string&(size_t)>& id,
                                                           const std::function<void(size_t, RedisCommand&)>& args,
                                                           const std::function<std::vector<std::string>()>& tail,
                                                           absl::string_view what, absl::Time deadline) {
  const std::map<uint16_t, std::vector<size_t>> by_slot = BySlot(id, n);
  std::vector<SlotCommand> commands;
  for (const auto& [slot, indices] : by_slot) {
    SlotCommand command{slot, {"EVAL", script, absl::StrCat(3 * indices.size())}, /*at_most_once=*/true};
    for (size_t i : indices) {
      const std::string record = absl::StrCat(type_.key_prefix, id(i));
      command.command.push_back(record);
      command.command.push_back(FenceKey(type_.fence_prefix, record));
      command.command.push_back(IntentKey(id(i)));
    }
    for (size_t i : indices) args(i, command.command);
    for (std::string& arg : tail()) command.command.push_back(std::move(arg));
    commands.push_back(std::move(command));
  }
  std::vector<bool> flags(n, false);
  if (commands.empty()) return flags;
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  size_t k = 0;
  for (const auto& [slot, indices] : by_slot) {
    const OwnedReply& reply = replies[k++];
    RETURN_IF_ERROR(ReplyError(reply, what));
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements.size() != indices.size()) return Unexpected(what);
    for (size_t j = 0; j < indices.size(); ++j) flags[indices[j]] = reply.elements[j].integer == 1;
  }
  return flags;
}

absl::StatusOr<std::vector<bool>> ClusterCas::Promote(absl::Span<const Promotion> entries, absl::Time deadline) {
  return PerSlotFlags(
      kPromoteScript, entries.size(), [&](size_t i) -> const std::string& { return entries[i].id; },
      [&](size_t i, RedisCommand& command) {
        command.push_back(entries[i].value);
        command.push_back(Expectation(entries[i].fence));
      },
      [] { return std::vector<std::string>(); }, "promote", deadline);
}

absl::StatusOr<std::vector<bool>> ClusterCas::CompareAndDelete(absl::Span<const IdValue> entries,
                                                               absl::Time deadline) {
  return PerSlotFlags(
      kCompareAndDeleteScript, entries.size(), [&](size_t i) -> const std::string& { return entries[i].id; },
      [&](size_t i, RedisCommand& command) { command.push_back(entries[i].value); },
      [] { return std::vector<std::string>{RandomToken()}; },  // A fresh token per script.
      "compare-and-delete", deadline);
}

absl::StatusOr<ClusterCas::NodePage> ClusterCas::ScanNode(uint16_t master_slot, uint64_t cursor,
                                                         const std::string& match, int count, absl::Time deadline) {
  ASSIGN_OR_RETURN(std::vector<OwnedReply> pages,
                   cluster_->Exec({{master_slot,
                                    {"SCAN", absl::StrCat(cursor), "MATCH", match, "COUNT", absl::StrCat(count)}}},
                                  deadline));
  OwnedReply& page = pages[0];
  RETURN_IF_ERROR(ReplyError(page, "SCAN"));
  NodePage result;
  if (page.type != REDIS_REPLY_ARRAY || page.elements.size() != 2 || page.elements[1].type != REDIS_REPLY_ARRAY ||
      !absl::SimpleAtoi(page.elements[0].str, &result.next)) {
    return Unexpected("SCAN");
  }
  for (OwnedReply& key : page.elements[1].elements) result.keys.push_back(std::move(key.str));
  return result;
}

absl::Status ClusterCas::ScriptOverKeys(const char* script, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args, size_t width, absl::string_view what,
                                        const std::function<void(const std::string&, const OwnedReply*)>& found,
                                        absl::Time deadline) {
  std::map<uint16_t, std::vector<size_t>> by_slot;
  for (size_t i = 0; i < keys.size(); ++i) by_slot[KeySlot(keys[i])].push_back(i);
  std::vector<SlotCommand> commands;
  for (const auto& [slot, indices] : by_slot) {
    SlotCommand command{slot, {"EVAL", script, absl::StrCat(indices.size())}};
    for (size_t i : indices) command.command.push_back(keys[i]);
    for (const std::string& arg : args) command.command.push_back(arg);
    commands.push_back(std::move(command));
  }
  if (commands.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(commands), deadline));
  size_t k = 0;
  for (const auto& [slot, indices] : by_slot) {
    const OwnedReply& reply = replies[k++];
    RETURN_IF_ERROR(ReplyError(reply, what));
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements.size() % width != 0) return Unexpected(what);
    for (size_t j = 0; j < reply.elements.size(); j += width) {
      const long long index = reply.elements[j].integer;
      if (index < 1 || static_cast<size_t>(index) > indices.size()) return Unexpected(what);
      found(keys[indices[index - 1]], &reply.elements[j + 1]);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IdleScanPage> ClusterCas::ScanIdle(uint64_t cursor, absl::Duration min_idle, int count,
                                                  int max_values, absl::Time deadline) {
  constexpr int kNodeShift = 56;
  // A new scan reads the slot map first, so masters added since are in it.
  if (cursor == 0) RETURN_IF_ERROR(cluster_->Refresh(deadline));
  ASSIGN_OR_RETURN(std::vector<uint16_t> masters, cluster_->MasterSlots(deadline));
  if (masters.size() >= 256) return absl::FailedPreconditionError("redis cluster: idle scan supports 255 masters");
  const size_t node = static_cast<size_t>(cursor >> kNodeShift);
  const uint64_t node_cursor = cursor & ((uint64_t{1} << kNodeShift) - 1);
  IdleScanPage result;
  if (node >= masters.size()) return result;  // Fewer masters than when the scan began: done.
  ASSIGN_OR_RETURN(NodePage page,
                   ScanNode(masters[node], node_cursor, absl::StrCat(type_.key_prefix, "*"), count, deadline));
  if (page.next >= (uint64_t{1} << kNodeShift)) return Unexpected("SCAN");
  result.next_cursor = page.next != 0                ? (uint64_t{node} << kNodeShift) | page.next
                       : node + 1 < masters.size() ? uint64_t{node + 1} << kNodeShift
                                                   : 0;
  result.scanned = static_cast<int64_t>(page.keys.size());
  if (max_values <= 0) return result;
  // The idle check, one script per slot (on the node just scanned): groups
  // of {index, idle, value}.
  RETURN_IF_ERROR(ScriptOverKeys(
      kIdleValuesScript, page.keys, {absl::StrCat(absl::ToInt64Seconds(min_idle)), absl::StrCat(max_values)}, 3,
      "idle scan",
      [&](const std::string& key, const OwnedReply* fields) {
        if (static_cast<int>(result.idle.size()) >= max_values) return;
        result.idle.push_back(IdleValue{key.substr(type_.key_prefix.size()), fields[1].str, fields[0].integer});
      },
      deadline));
  return result;
}

absl::Status ClusterCas::RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan,
                                     absl::Time deadline) {
  const std::map<uint16_t, std::vector<size_t>> by_slot =
      BySlot([&](size_t i) -> const std::string& { return entries[i].id; }, entries.size());
  std::vector<SlotCommand> restores;
  for (const auto& [slot, indices] : by_slot) {
    SlotCommand restore{slot, {"EVAL", kRestoreIdleScript, absl::StrCat(indices.size())}};
    for (size_t i : indices) restore.command.push_back(absl::StrCat(type_.key_prefix, entries[i].id));
    restore.command.push_back(absl::StrCat(absl::ToInt64Seconds(since_scan)));
    for (size_t i : indices) {
      restore.command.push_back(entries[i].value);
      restore.command.push_back(absl::StrCat(entries[i].idle_seconds));
    }
    restores.push_back(std::move(restore));  // Safe to resend or run late: it checks value and idle time.
  }
  if (restores.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(restores), deadline));
  for (const OwnedReply& reply : replies) RETURN_IF_ERROR(ReplyError(reply, "restore idle"));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ClusterCas::ExpireRequests(int limit, absl::Time deadline) {
  std::vector<SlotCommand> expiries;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    const uint16_t slot = static_cast<uint16_t>(bucket * (kSlotCount / kBuckets));
    expiries.push_back({slot,
                        {"EVAL", kExpireRequestsScript, "1",
                         absl::StrCat(type_.request_expiry_key, "{", SlotTag(slot), "}"), absl::StrCat(limit)}});
  }
  ASSIGN_OR_RETURN(std::vector<OwnedReply> replies, cluster_->Exec(std::move(expiries), deadline));
  int64_t removed = 0;
  for (const OwnedReply& reply : replies) {
    RETURN_IF_ERROR(ReplyError(reply, "expire requests"));
    if (reply.type != REDIS_REPLY_INTEGER) return Unexpected("expire requests");
    removed += reply.integer;
  }
  return removed;
}

absl::StatusOr<int64_t> ClusterCas::ResolveStale(absl::Duration older_than, absl::Time deadline) {
  std::vector<SlotCommand> scans;
  std::vector<std::string> tags;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    const uint16_t slot = static_cast<uint16_t>(bucket * (kSlotCount / kBuckets));
    tags.push_back(absl::StrCat("{", SlotTag(slot), "}"));
    scans.push_back({slot,
                     {"EVAL", kStaleScript, "1", absl::StrCat(type_.txn_prefix, "open", tags.back()),
                      absl::StrCat(absl::ToInt64Milliseconds(older_than)), "100"}});
  }
  // One transaction that cannot be settled now (a node away) does not hold
  // up the others, nor the intent sweep: the first error is returned after
  // trying them all.
  int64_t resolved = 0;
  absl::Status first_error;
  absl::StatusOr<std::vector<OwnedReply>> scanned = cluster_->Exec(std::move(scans), deadline);
  first_error.Update(scanned.status());
  const std::vector<OwnedReply> replies = scanned.ok() ? *std::move(scanned) : std::vector<OwnedReply>();
  for (size_t b = 0; b < replies.size(); ++b) {
    absl::Status error = ReplyError(replies[b], "stale scan");
    if (error.ok() && replies[b].type != REDIS_REPLY_ARRAY) error = Unexpected("stale scan");
    if (!error.ok()) {
      first_error.Update(error);
      continue;
    }
    for (const OwnedReply& id : replies[b].elements) {
      absl::Status settled = Resolve(absl::StrCat(type_.txn_prefix, tags[b], id.str), {}, deadline).status();
      first_error.Update(settled);
      if (!settled.ok()) continue;
      metrics_->Add(Counter::cluster_txn_resolved_total);
      ++resolved;
    }
  }
  // Then intents older than that whose transaction is no longer open (a
  // prepare copy that ran late, a cleanup that failed): each master's
  // intent keys are scanned, and each old one resolved through the
  // transaction it names (gone: released).
  absl::StatusOr<int64_t> orphans = ReleaseOldIntents(older_than, deadline);
  if (orphans.ok()) resolved += *orphans;
  first_error.Update(orphans.status());
  if (!first_error.ok()) return first_error;
  return resolved;
}

absl::StatusOr<int64_t> ClusterCas::ReleaseOldIntents(absl::Duration older_than, absl::Time deadline) {
  // Resumable and bounded per call: the masters in turn through one cursor
  // (master index in the top 8 bits, as ScanIdle's), at most
  // kIntentPagesPerCall SCAN pages, so a sweep every few seconds costs a
  // bounded slice of each master's keyspace rather than all of it. A whole
  // pass takes (keys / 1000 / kIntentPagesPerCall) calls; writers resolve
  // the intents they meet themselves, so this is a backstop only.
  constexpr int kNodeShift = 56;
  constexpr int kIntentPagesPerCall = 16;
  uint64_t cursor;
  {
    absl::MutexLock lock(&sweep_mu_);
    cursor = sweep_cursor_;
  }
  if (cursor == 0) RETURN_IF_ERROR(cluster_->Refresh(deadline));
  ASSIGN_OR_RETURN(std::vector<uint16_t> masters, cluster_->MasterSlots(deadline));
  if (masters.size() >= 256) return absl::FailedPreconditionError("redis cluster: intent sweep supports 255 masters");
  const std::string intent_prefix = absl::StrCat(type_.txn_prefix, "intent:{");
  int64_t released = 0;
  absl::Status first_error;
  for (int pages = 0; pages < kIntentPagesPerCall; ++pages) {
    const size_t node = static_cast<size_t>(cursor >> kNodeShift);
    if (node >= masters.size()) {  // The map shrank: start over next time.
      cursor = 0;
      break;
    }
    const uint64_t node_cursor = cursor & ((uint64_t{1} << kNodeShift) - 1);
    const uint64_t next_node = node + 1 < masters.size() ? uint64_t{node + 1} << kNodeShift : 0;
    absl::StatusOr<NodePage> scanned =
        ScanNode(masters[node], node_cursor, absl::StrCat(intent_prefix, "*"), 1000, deadline);
    if (scanned.ok() && scanned->next >= (uint64_t{1} << kNodeShift)) scanned = Unexpected("SCAN cursor");
    if (!scanned.ok()) {
      // A master that cannot be scanned now is passed over for this pass,
      // so it cannot hold up the others' sweep.
      first_error.Update(scanned.status());
      cursor = next_node;
      if (cursor == 0) break;
      continue;
    }
    NodePage& page = *scanned;
    cursor = page.next != 0 ? (uint64_t{node} << kNodeShift) | page.next : next_node;
    // Groups of {index, intent value}; each old intent is resolved through
    // the transaction it names: "<prefix>intent:{<tag>}<id>" holds
    // "<txn id>\n<txn key>\n...".
    std::vector<std::pair<std::string, std::string>> old;  // (txn key, id)
    absl::Status malformed;
    first_error.Update(ScriptOverKeys(
        kOldIntentsScript, page.keys, {absl::StrCat(absl::ToInt64Milliseconds(older_than))}, 2, "intent scan",
        [&](const std::string& key, const OwnedReply* fields) {
          const size_t close = key.find('}', intent_prefix.size());
          const std::vector<absl::string_view> parts = absl::StrSplit(fields[0].str, absl::MaxSplits('\n', 2));
          if (close == std::string::npos || parts.size() != 3) {
            malformed = Unexpected("intent scan");
            return;
          }
          old.emplace_back(std::string(parts[1]), key.substr(close + 1));
        },
        deadline));
    first_error.Update(malformed);
    // One intent that cannot be settled now does not hold up the others.
    for (const auto& [txn_key, id] : old) {
      absl::Status settled = Resolve(txn_key, {id}, deadline).status();
      first_error.Update(settled);
      if (!settled.ok()) continue;
      metrics_->Add(Counter::cluster_txn_resolved_total);
      ++released;
    }
    if (cursor == 0) break;  // A whole pass done.
  }
  {
    absl::MutexLock lock(&sweep_mu_);
    sweep_cursor_ = cursor;
  }
  if (!first_error.ok()) return first_error;
  return released;
}

}  // namespace catalog::storage

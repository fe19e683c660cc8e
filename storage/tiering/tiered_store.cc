#include "storage/tiering/tiered_store.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/status_macros.h"

namespace catalog::storage {

namespace {
// What L1 holds for an id that exists in neither tier: a tombstone (read
// as missing), one byte.
constexpr absl::string_view kNotFound("\0", 1);
}  // namespace

TieredStore::TieredStore(const RecordType& type, PrimaryTier* primary, ColdTier* cold, const Clock* clock,
                         Metrics* metrics, TieredStoreOptions options, Executor* executor, HotCache* hot)
    : type_(type),
      primary_(primary),
      cold_(cold),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      executor_(executor != nullptr ? executor : Executor::Inline()),
      hot_(hot) {}

absl::Time TieredStore::Bound(absl::Time deadline) const {
  return std::min(deadline, clock_->Now() + options_.max_operation_time);
}

std::shared_ptr<IdBatch> IdBatch::Copy(absl::Span<const std::string> ids) {
  auto batch = std::make_shared<IdBatch>();
  size_t bytes = 0;
  for (const std::string& id : ids) bytes += id.size();
  batch->bytes.reserve(bytes);
  for (const std::string& id : ids) batch->bytes += id;
  batch->ids.reserve(ids.size());
  size_t at = 0;
  for (const std::string& id : ids) {
    batch->ids.push_back(absl::string_view(batch->bytes).substr(at, id.size()));
    at += id.size();
  }
  return batch;
}

// What L1 answered for one read. A read is answered wholly by L1 or
// wholly by one MGET (never a mix: one answer is one moment of Redis).
struct TieredStore::HotLookup {
  std::vector<HotCache::Value> hits;  // Index-aligned, when all hit.
  bool all_hit = false;
  HotCache::Ticket ticket;  // Taken before the MGET.
};

TieredStore::HotLookup TieredStore::LookupHot(absl::Span<const absl::string_view> ids) const {
  HotLookup hot;
  if (hot_ == nullptr) return hot;
  hot.hits.resize(ids.size());
  hot.all_hit = hot_->LookupAll(ids, hot.hits.data());
  if (!hot.all_hit) {
    hot.hits.clear();
    hot.ticket = hot_->Begin();
  }
  return hot;
}

// L1's values, or Redis's (stored in L1), in request order.
std::vector<ValueView> TieredStore::MergeHot(const HotLookup& hot, absl::Span<const absl::string_view> ids,
                                             absl::Span<const ValueView> fetched) const {
  if (!hot.all_hit) {
    if (hot_ != nullptr) hot_->Fill(hot.ticket, ids, fetched);
    return std::vector<ValueView>(fetched.begin(), fetched.end());
  }
  std::vector<ValueView> views(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) views[i] = ValueView(*hot.hits[i]);
  return views;
}

// The tiered read: L1, then Redis, then cold for the misses, then write-back.
absl::StatusOr<std::vector<MaybeValue>> TieredStore::Read(absl::Span<const std::string> ids, absl::Time deadline) {
  deadline = Bound(deadline);
  metrics_->Add(Counter::read_keys_total, static_cast<int64_t>(ids.size()));
  const std::vector<absl::string_view> views(ids.begin(), ids.end());
  const HotLookup hot = LookupHot(views);
  std::vector<MaybeValue> fetched;
  if (!hot.all_hit) {
    ASSIGN_OR_RETURN(fetched, primary_->MultiGet(ids, deadline));
  }
  return ReadMisses(views, Owned(MergeHot(hot, views, Views(fetched))), deadline, &hot.ticket);
}

absl::StatusOr<std::vector<MaybeValue>> TieredStore::ReadFresh(absl::Span<const std::string> ids,
                                                               absl::Time deadline) {
  deadline = Bound(deadline);
  metrics_->Add(Counter::read_keys_total, static_cast<int64_t>(ids.size()));
  const std::vector<absl::string_view> views(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(std::vector<MaybeValue> fetched, primary_->MultiGet(ids, deadline));
  return ReadMisses(views, std::move(fetched), deadline);
}

// The same read without blocking the caller. All in L1: answered at once
// on the calling thread. Otherwise one MGET of every id goes out
// asynchronously; an answer with every id present is completed on the
// thread that got the reply; misses continue on the executor (they block
// on MySQL), from the same MGET result, so a read is still one MGET.
void TieredStore::ReadAsync(std::shared_ptr<const IdBatch> ids, absl::Time deadline, ReadDone done, ReadFrom from) {
  deadline = Bound(deadline);
  metrics_->Add(Counter::read_keys_total, static_cast<int64_t>(ids->ids.size()));
  auto hot = std::make_shared<const HotLookup>(LookupHot(ids->ids));
  if (hot->all_hit) return Answer(ids, MergeHot(*hot, ids->ids, {}), hot->ticket, deadline, done);
  if (from == ReadFrom::kReplicaOk) return ReadReplica(std::move(ids), std::move(hot), deadline, std::move(done));
  ReadMaster(std::move(ids), std::move(hot), deadline, std::move(done));
}

void TieredStore::ReadMaster(std::shared_ptr<const IdBatch> ids, std::shared_ptr<const HotLookup> hot,
                             absl::Time deadline, ReadDone done) {
  primary_->MultiGetAsync(ids->ids, deadline,
                          [this, ids, hot, deadline, done = std::move(done)](
                              absl::StatusOr<absl::Span<const ValueView>> fetched) mutable {
                            if (!fetched.ok()) return done(ids->ids, fetched.status());
                            Answer(ids, MergeHot(*hot, ids->ids, *fetched), hot->ticket, deadline, done);
                          });
}

// Only a replica's full answer is used. A miss there may be a record the
// replica has not received yet, or one demoted to MySQL: the master path
// decides those (with its fences, L1 tickets and write-backs), and none of
// them ever sees a value that came from a replica, so an older value can
// reach this caller only, never L1 or Redis.
void TieredStore::ReadReplica(std::shared_ptr<const IdBatch> ids, std::shared_ptr<const HotLookup> hot,
                              absl::Time deadline, ReadDone done) {
  // Half the time left at most: a replica that hangs leaves the master the
  // other half.
  const absl::Time now = clock_->Now();
  const absl::Time replica_deadline = deadline <= now ? deadline : now + (deadline - now) / 2;
  primary_->MultiGetReplicaAsync(
      ids->ids, replica_deadline,
      [this, ids, hot, deadline, done = std::move(done)](absl::StatusOr<absl::Span<const ValueView>> fetched) mutable {
        if (fetched.ok() && std::all_of(fetched->begin(), fetched->end(),
                                        [](const ValueView& value) { return value.has_value(); })) {
          std::vector<ValueView> views(fetched->begin(), fetched->end());
          for (ValueView& view : views) {
            if (IsTombstone(*view)) view.reset();
          }
          metrics_->Add(Counter::replica_read_keys_total, static_cast<int64_t>(views.size()));
          return done(ids->ids, absl::MakeConstSpan(views));
        }
        metrics_->Add(Counter::replica_read_fallbacks_total);
        ReadMaster(ids, hot, deadline, std::move(done));
      });
}

// Completes an async read from L1's and Redis's values: every id present
// is answered here (tombstones as missing), else the misses go to MySQL on
// the executor.
void TieredStore::Answer(const std::shared_ptr<const IdBatch>& ids, std::vector<ValueView> views,
                         HotCache::Ticket ticket, absl::Time deadline, const ReadDone& done) {
  const bool all_present =
      std::all_of(views.begin(), views.end(), [](const ValueView& value) { return value.has_value(); });
  if (all_present) {
    for (ValueView& view : views) {
      if (IsTombstone(*view)) view.reset();
    }
    metrics_->Add(Counter::read_hot_hits_total, static_cast<int64_t>(views.size()));
    return done(ids->ids, absl::MakeConstSpan(views));
  }
  executor_->Run([this, ids, ticket, deadline, owned = Owned(views), done]() mutable {
    // Queued behind slow cold reads, the call may have run out of time.
    if (clock_->Now() >= deadline) {
      return done(ids->ids, absl::DeadlineExceededError("deadline exceeded waiting for a cold-read thread"));
    }
    absl::StatusOr<std::vector<MaybeValue>> read = ReadMisses(ids->ids, std::move(owned), deadline, &ticket);
    if (!read.ok()) return done(ids->ids, read.status());
    const std::vector<ValueView> values = Views(*read);
    done(ids->ids, absl::MakeConstSpan(values));
  });
}

// What Redis answered for `ids`, completed: tombstones read as missing,
// misses from MySQL (fences read first: see below), cold hits written back.
//
// The fences of the misses are read after the MGET and before MySQL: any
// demotion that removed one of those keys before the fence read had put its
// value into MySQL first, so the SELECT sees it (or newer); any demotion
// after the fence read changes the fence, and the write-back script refuses.
absl::StatusOr<std::vector<MaybeValue>> TieredStore::ReadMisses(absl::Span<const absl::string_view> ids,
                                                                std::vector<MaybeValue> values, absl::Time deadline,
                                                                const HotCache::Ticket* ticket) {
  std::vector<std::string> cold_ids;
  std::vector<size_t> cold_positions;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i].has_value()) {
      cold_ids.emplace_back(ids[i]);
      cold_positions.push_back(i);
    } else if (IsTombstone(*values[i])) {
      values[i].reset();  // Deleted: Redis is the truth, MySQL is not asked.
    }
  }
  metrics_->Add(Counter::read_hot_hits_total, static_cast<int64_t>(ids.size() - cold_ids.size()));
  if (cold_ids.empty()) return values;

  ASSIGN_OR_RETURN(std::vector<FenceToken> fences, primary_->ReadFences(cold_ids, deadline));
  ASSIGN_OR_RETURN(auto rows, cold_->MultiGet(cold_ids, deadline));
  std::vector<Promotion> promotions;
  std::vector<absl::string_view> absent;  // In neither tier (or deleted in MySQL).
  for (size_t j = 0; j < cold_ids.size(); ++j) {
    if (!rows[j].has_value() || IsTombstone(rows[j]->payload)) {
      absent.push_back(ids[cold_positions[j]]);
      continue;
    }
    values[cold_positions[j]] = rows[j]->payload;
    promotions.push_back(Promotion{std::move(cold_ids[j]), std::move(rows[j]->payload), std::move(fences[j])});
  }
  metrics_->Add(Counter::read_cold_hits_total, static_cast<int64_t>(promotions.size()));
  metrics_->Add(Counter::read_misses_total, static_cast<int64_t>(cold_ids.size() - promotions.size()));
  Promote(std::move(promotions), deadline);
  // "Not found" goes to L1 too, as a tombstone: any write that creates the
  // record is a change under the prefix, so its invalidation covers it, and
  // the ticket (taken before the MGET) refuses it if one came meanwhile.
  if (hot_ != nullptr && ticket != nullptr && !absent.empty()) {
    const std::vector<ValueView> not_found(absent.size(), ValueView(kNotFound));
    hot_->Fill(*ticket, absent, not_found);
  }
  return values;
}

// The fenced script stores a value only where the key is still absent and
// no demotion fenced its bucket since our fence read, so a newer value, a
// tombstone or a demotion meanwhile always wins, however late this runs.
// A failure is counted, never returned: the read itself succeeded.
void TieredStore::Promote(std::vector<Promotion> promotions, absl::Time deadline) {
  if (promotions.empty()) return;
  absl::StatusOr<std::vector<bool>> stored = primary_->Promote(promotions, deadline);
  if (!stored.ok()) {
    metrics_->Add(Counter::promotion_failures_total, static_cast<int64_t>(promotions.size()));
    return;
  }
  for (bool s : *stored) metrics_->Add(s ? Counter::promotions_total : Counter::promotions_skipped_total);
}

// Values and fences in one pipeline, then MySQL for the absent ids: the
// same order as Read, for the same reason.
absl::StatusOr<TieredStore::Snapshot> TieredStore::Look(absl::Span<const std::string> ids, absl::Time deadline) {
  Snapshot snapshot;
  ASSIGN_OR_RETURN(FencedRead read, primary_->MultiGetFenced(ids, deadline));
  snapshot.primary = std::move(read.values);
  snapshot.fences = std::move(read.fences);
  snapshot.live.assign(ids.size(), false);
  snapshot.live_version.assign(ids.size(), 0);
  snapshot.last_version.assign(ids.size(), 0);
  std::vector<std::string> cold_ids;
  std::vector<size_t> cold_positions;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!snapshot.primary[i].has_value()) {
      cold_ids.push_back(ids[i]);
      cold_positions.push_back(i);
      continue;
    }
    const DecodedValue decoded = DecodeStoredValue(*snapshot.primary[i], type_.version_field_number);
    snapshot.last_version[i] = decoded.version;
    // A corrupt value counts as a record at version 0: an unconditional
    // write may replace it, a conditional one cannot match it. Its real
    // version is unknown, so MySQL is asked too: versions must not restart
    // below a copy there.
    if (decoded.kind == ValueKind::kCorrupt) {
      cold_ids.push_back(ids[i]);
      cold_positions.push_back(i);
    }
    if (decoded.kind != ValueKind::kTombstone) {
      snapshot.live[i] = true;
      snapshot.live_version[i] = decoded.version;
    }
  }
  if (cold_ids.empty()) return snapshot;
  ASSIGN_OR_RETURN(auto rows, cold_->MultiGet(cold_ids, deadline));
  for (size_t j = 0; j < cold_ids.size(); ++j) {
    const size_t i = cold_positions[j];
    if (!rows[j].has_value()) continue;
    snapshot.last_version[i] = std::max(snapshot.last_version[i], rows[j]->version);
    if (snapshot.primary[i].has_value()) continue;  // Redis decides whether it lives.
    if (!IsTombstone(rows[j]->payload)) {
      snapshot.live[i] = true;
      snapshot.live_version[i] = rows[j]->version;
    }
  }
  return snapshot;
}

absl::StatusOr<WriteResult> TieredStore::Write(absl::Span<const WriteIntent> intents, RecordEncoder encode,
                                               absl::Time deadline, const WriteOnce* once) {
  deadline = Bound(deadline);
  std::vector<std::string> ids;
  ids.reserve(intents.size());
  for (const WriteIntent& intent : intents) ids.push_back(intent.id);
  const absl::Cleanup evict = [&] { EvictLocally(ids); };

  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    ASSIGN_OR_RETURN(Snapshot snapshot, Look(ids, deadline));
    WriteResult result;
    std::vector<CasEntry> entries;
    entries.reserve(intents.size());
    for (size_t i = 0; i < intents.size(); ++i) {
      const int64_t expected = intents[i].expected_version;
      if (expected > 0 && expected != snapshot.live_version[i]) {
        if (once != nullptr) {
          // The conflict may be our own earlier attempt, applied: the log
          // tells. (A request applied once answers its retries the same.)
          ASSIGN_OR_RETURN(MaybeValue recorded, primary_->GetRequest(once->request_id, deadline));
          if (recorded.has_value()) return WriteResult{{}, std::nullopt, std::move(recorded)};
        }
        result.conflict = VersionConflict{i, expected, snapshot.live_version[i]};
        return result;
      }
      const int64_t version = snapshot.last_version[i] + 1;
      result.versions.push_back(version);
      entries.push_back(
          CasEntry{ids[i], std::move(snapshot.primary[i]), std::move(snapshot.fences[i]), encode(i, version)});
    }
    std::optional<RequestEntry> request;
    if (once != nullptr) request = RequestEntry{once->request_id, once->entry(), options_.request_ttl};
    ASSIGN_OR_RETURN(CasResult cas, primary_->CompareAndSet(entries, request ? &*request : nullptr, deadline));
    switch (cas.outcome) {
      case CasResult::Outcome::kApplied:
        return result;
      case CasResult::Outcome::kRequestDone:
        return WriteResult{{}, std::nullopt, std::move(cas.recorded)};
      case CasResult::Outcome::kChanged:
        metrics_->Add(Counter::write_conflict_retries_total);
        break;
    }
  }
  return absl::AbortedError(absl::StrCat("concurrent modification: gave up after ", options_.max_write_attempts,
                                         " attempts; nothing was written; retry the call"));
}

// Read-your-writes on this instance: on every way out of a Write or
// Delete (applied, replayed from the request log, conflicting, failing:
// an error may hide an applied write), the ids leave L1 before the caller
// hears back, as one batch. Other instances learn from Redis's messages.
void TieredStore::EvictLocally(absl::Span<const std::string> ids) {
  if (hot_ != nullptr) hot_->InvalidateBatch(ids);
}

absl::StatusOr<MaybeValue> TieredStore::LookupRequest(const std::string& request_id, absl::Time deadline) {
  return primary_->GetRequest(request_id, Bound(deadline));
}

absl::StatusOr<int64_t> TieredStore::ExpireRequests(int limit, absl::Time deadline) {
  return primary_->ExpireRequests(limit, deadline);
}

absl::StatusOr<int64_t> TieredStore::ResolveStale(absl::Time deadline) { return primary_->ResolveStale(deadline); }

absl::StatusOr<int64_t> TieredStore::Delete(absl::Span<const std::string> ids, absl::Time deadline) {
  deadline = Bound(deadline);
  const absl::Cleanup evict = [&] { EvictLocally(ids); };
  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    ASSIGN_OR_RETURN(Snapshot snapshot, Look(ids, deadline));
    std::vector<CasEntry> entries;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!snapshot.live[i]) continue;  // Nothing to delete under this id.
      entries.push_back(CasEntry{ids[i], std::move(snapshot.primary[i]), std::move(snapshot.fences[i]),
                                 EncodeTombstone(snapshot.last_version[i] + 1)});
    }
    if (entries.empty()) return 0;
    ASSIGN_OR_RETURN(CasResult cas, primary_->CompareAndSet(entries, nullptr, deadline));
    if (cas.outcome != CasResult::Outcome::kApplied) {
      metrics_->Add(Counter::write_conflict_retries_total);
      continue;
    }
    // The Redis tombstones decided the outcome. Writing them over the cold
    // rows too removes the old payloads from MySQL now rather than at the
    // next demotion; if that fails it only counts: the tombstones hide the
    // rows, and demotion writes the same tombstones later.
    std::vector<ColdWrite> cold_tombstones;
    for (const CasEntry& entry : entries) {
      cold_tombstones.push_back(
          ColdWrite{entry.id, *entry.replacement, DecodeStoredValue(*entry.replacement, 0).version});
    }
    if (!cold_->PutIfNewer(cold_tombstones, deadline, /*fencing_token=*/0).status().ok()) {
      metrics_->Add(Counter::cold_tombstone_failures_total, static_cast<int64_t>(entries.size()));
    }
    return static_cast<int64_t>(entries.size());
  }
  return absl::AbortedError(absl::StrCat("concurrent modification: gave up after ", options_.max_write_attempts,
                                         " attempts; nothing was deleted; retry the call"));
}

absl::Status TieredStore::IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) {
  return primary_->IndexAdd(entries, Bound(deadline));
}

absl::StatusOr<std::vector<std::string>> TieredStore::IndexRange(const std::string& index, const std::string& after,
                                                                 int limit, absl::Time deadline) {
  return primary_->IndexRange(index, after, limit, Bound(deadline));
}

namespace {

std::string Progress(const DemoteResult& r) {
  return absl::StrCat("scanned ", r.scanned, ", demoted ", r.demoted, " records and ", r.tombstones_demoted,
                      " tombstones, kept ", r.skipped_changed, " changed meanwhile");
}

}  // namespace

// Demotion needs no idle-time minimum for safety: MySQL is written before
// Redis lets go (so the cold tier holds the value, or a newer one, from then
// on), Redis lets go only of the exact bytes that were written (so a value
// changed meanwhile stays), and the same script fences the bucket (so a
// reader that looked before cannot write back what it read from MySQL
// earlier). `min_idle` only chooses which records are worth moving.
absl::StatusOr<LockGrant> TieredStore::AcquireDemotionLock(const std::string& holder, absl::Duration ttl,
                                                           int64_t token_floor, absl::Time deadline) {
  return primary_->AcquireDemotionLock(holder, ttl, token_floor, Bound(deadline));
}

absl::Status TieredStore::ReleaseDemotionLock(const std::string& holder, absl::Time deadline) {
  return primary_->ReleaseDemotionLock(holder, Bound(deadline));
}

absl::StatusOr<DemoteResult> TieredStore::Demote(absl::Duration min_idle, int64_t limit, absl::Time deadline,
                                                 CancelCheck cancelled, int64_t fencing_token) {
  if (min_idle < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("idle_seconds: must be >= 0, got ", absl::ToInt64Seconds(min_idle)));
  }
  ASSIGN_OR_RETURN(const int64_t max_record_bytes, cold_->MaxRecordBytes(Bound(deadline)));
  DemoteResult result;
  uint64_t cursor = 0;
  absl::Status status;
  do {
    if (cancelled()) {
      status = absl::CancelledError(absl::StrCat("demotion cancelled: ", Progress(result)));
      break;
    }
    const int64_t moved = result.demoted + result.tombstones_demoted;
    const int room = limit > 0 ? static_cast<int>(std::min<int64_t>(limit - moved, options_.demote_scan_count))
                               : options_.demote_scan_count;
    absl::StatusOr<IdleScanPage> page =
        primary_->ScanIdle(cursor, min_idle, options_.demote_scan_count, room, Bound(deadline));
    if (!page.ok()) {
      status = page.status();
      break;
    }
    const absl::Time scanned_at = clock_->Now();
    result.scanned += page->scanned;
    cursor = page->next_cursor;
    status = DemotePage(std::move(page->idle), scanned_at, max_record_bytes, deadline, cancelled, fencing_token,
                        &result);
  } while (status.ok() && cursor != 0 && (limit == 0 || result.demoted + result.tombstones_demoted < limit));
  metrics_->Add(Counter::demoted_total, result.demoted);
  metrics_->Add(Counter::tombstones_demoted_total, result.tombstones_demoted);
  metrics_->Add(Counter::demote_skipped_changed_total, result.skipped_changed);
  metrics_->Add(Counter::demote_too_large_total, result.too_large);
  metrics_->Add(Counter::demoted_bytes_total, result.bytes);
  metrics_->Add(Counter::demote_cold_newer_total, result.cold_newer);
  if (!status.ok()) {
    if (absl::IsCancelled(status)) return status;
    absl::Status stopped(status.code(),
                         absl::StrCat(status.message(), " (demotion stopped after: ", Progress(result), ")"));
    // Payloads carry facts callers act on (the newest fencing token).
    status.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { stopped.SetPayload(url, payload); });
    return stopped;
  }
  return result;
}

absl::Status TieredStore::DemotePage(std::vector<IdleValue> idle, absl::Time scanned_at, int64_t max_record_bytes,
                                     absl::Time deadline, CancelCheck cancelled, int64_t fencing_token,
                                     DemoteResult* result) {
  // Values read but not moved get their idle clocks back (best effort: an
  // idle clock is only a hint to demotion), also after a failure at the
  // deadline: a short grace of its own.
  std::vector<IdleValue> keep;
  auto restore = [&]() {
    if (keep.empty()) return;
    const absl::Time restore_by = std::max(deadline, clock_->Now() + absl::Seconds(1));
    if (!primary_->RestoreIdle(keep, clock_->Now() - scanned_at, restore_by).ok()) {
      metrics_->Add(Counter::restore_idle_failures_total, static_cast<int64_t>(keep.size()));
    }
  };

  std::vector<IdleValue> candidates;
  for (IdleValue& value : idle) {
    const DecodedValue decoded = DecodeStoredValue(value.value, type_.version_field_number);
    if (decoded.kind == ValueKind::kCorrupt) {  // Left for an operator to inspect.
      keep.push_back(std::move(value));
    } else if (static_cast<int64_t>(value.id.size() + value.value.size()) > max_record_bytes) {
      ++result->too_large;
      if (result->too_large_ids.size() < 10) result->too_large_ids.push_back(value.id);
      keep.push_back(std::move(value));
    } else {
      candidates.push_back(std::move(value));
    }
  }

  absl::Status status;
  size_t begin = 0;
  while (begin < candidates.size()) {
    if (cancelled()) {
      status = absl::CancelledError(absl::StrCat("demotion cancelled: ", Progress(*result)));
      break;
    }
    // A batch that fits one MySQL statement (ColdTier::MaxRecordBytes).
    size_t end = begin;
    int64_t bytes = 0;
    std::vector<ColdWrite> records;
    while (end < candidates.size()) {
      const int64_t cost =
          static_cast<int64_t>(candidates[end].id.size() + candidates[end].value.size()) + kColdRowOverheadBytes;
      if (!records.empty() && bytes + cost > max_record_bytes + kColdRowOverheadBytes) break;
      bytes += cost;
      records.push_back(ColdWrite{candidates[end].id, candidates[end].value,
                                  DecodeStoredValue(candidates[end].value, type_.version_field_number).version});
      ++end;
    }
    // Each batch is bounded like any call, so a stalled MySQL ends the run
    // (and a cancellation is seen) within max_operation_time.
    const absl::Time batch_deadline = Bound(deadline);
    // MySQL first: once Redis lets go, the cold tier must already hold the
    // value (a record, or a tombstone superseding the older row).
    absl::StatusOr<std::vector<bool>> held = cold_->PutIfNewer(records, batch_deadline, fencing_token);
    if (!held.ok()) {
      status = held.status();
      break;
    }
    // Redis lets go only of what MySQL now holds exactly. Where MySQL holds
    // a newer version or another value under the same version, Redis is
    // behind MySQL (a failover lost writes that had been demoted, or a
    // corrupt value was overwritten): Redis stays the truth for that id, so
    // the value stays in Redis (counted; the next write of the id moves on).
    std::vector<IdValue> batch;
    for (size_t i = 0; i < records.size(); ++i) {
      IdleValue& candidate = candidates[begin + i];
      if ((*held)[i]) {
        batch.push_back(IdValue{candidate.id, candidate.value});
      } else {
        ++result->cold_newer;
        keep.push_back(candidate);
      }
    }
    // Then remove from Redis only what nobody changed since the scan.
    absl::StatusOr<std::vector<bool>> deleted = primary_->CompareAndDelete(batch, batch_deadline);
    if (!deleted.ok()) {
      for (size_t i = 0; i < records.size(); ++i) {
        if ((*held)[i]) keep.push_back(std::move(candidates[begin + i]));
      }
      status = deleted.status();
      begin = end;
      break;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!(*deleted)[i]) {
        ++result->skipped_changed;
      } else {
        ++(IsTombstone(batch[i].value) ? result->tombstones_demoted : result->demoted);
        result->bytes += static_cast<int64_t>(batch[i].value.size());
      }
    }
    begin = end;
  }
  for (size_t i = begin; i < candidates.size(); ++i) keep.push_back(std::move(candidates[i]));
  restore();
  return status;
}

}  // namespace catalog::storage

#include "storage/tiered_store.h"

#include "absl/strings/str_cat.h"

namespace catalog::storage {

#define CATALOG_ASSIGN_OR_RETURN(lhs, expr)     \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto& lhs = *lhs##_or

TieredStore::TieredStore(const RecordType& type, PrimaryTier* primary, ColdTier* cold, const Clock* clock,
                         Metrics* metrics, TieredStoreOptions options)
    : type_(type), primary_(primary), cold_(cold), clock_(clock), metrics_(metrics), options_(options) {}

absl::Time TieredStore::Bound(absl::Time deadline) const {
  return std::min(deadline, clock_->Now() + options_.max_operation_time);
}

// The tiered read: primary, then cold for the misses, then write-back.
absl::StatusOr<std::vector<MaybeValue>> TieredStore::Read(absl::Span<const std::string> ids, absl::Time deadline) {
  deadline = Bound(deadline);
  metrics_->Add(Counter::read_keys_total, static_cast<int64_t>(ids.size()));
  CATALOG_ASSIGN_OR_RETURN(values, primary_->MultiGet(ids, deadline));

  std::vector<std::string> cold_ids;
  std::vector<size_t> cold_positions;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i].has_value()) {
      cold_ids.push_back(ids[i]);
      cold_positions.push_back(i);
    } else if (IsTombstone(*values[i])) {
      values[i].reset();  // Deleted: Redis is the truth, MySQL is not asked.
    }
  }
  const int64_t hot = static_cast<int64_t>(ids.size() - cold_ids.size());
  metrics_->Add(Counter::read_hot_hits_total, hot);
  if (cold_ids.empty()) return values;

  CATALOG_ASSIGN_OR_RETURN(rows, cold_->MultiGet(cold_ids, deadline));
  std::vector<IdValue> promotions;
  for (size_t j = 0; j < cold_ids.size(); ++j) {
    if (!rows[j].has_value() || IsTombstone(rows[j]->payload)) continue;  // Deleted.
    values[cold_positions[j]] = rows[j]->payload;
    promotions.push_back(IdValue{std::move(cold_ids[j]), std::move(rows[j]->payload)});
  }
  metrics_->Add(Counter::read_cold_hits_total, static_cast<int64_t>(promotions.size()));
  metrics_->Add(Counter::read_misses_total, static_cast<int64_t>(cold_ids.size() - promotions.size()));
  Promote(std::move(promotions), deadline);
  return values;
}

// SET NX, so a newer value or a tombstone written meanwhile always wins.
// Never after the deadline: the demotion invariant counts on reads ending by
// then. A failure is counted, never returned: the read itself succeeded.
void TieredStore::Promote(std::vector<IdValue> promotions, absl::Time deadline) {
  if (promotions.empty()) return;
  if (clock_->Now() >= deadline) {
    metrics_->Add(Counter::promotions_skipped_total, static_cast<int64_t>(promotions.size()));
    return;
  }
  absl::StatusOr<std::vector<bool>> stored = primary_->AddIfAbsent(promotions, deadline);
  if (!stored.ok()) {
    metrics_->Add(Counter::promotion_failures_total, static_cast<int64_t>(promotions.size()));
    return;
  }
  for (bool s : *stored) metrics_->Add(s ? Counter::promotions_total : Counter::promotions_skipped_total);
}

absl::StatusOr<TieredStore::Snapshot> TieredStore::Look(absl::Span<const std::string> ids, absl::Time deadline) {
  Snapshot snapshot;
  CATALOG_ASSIGN_OR_RETURN(primary, primary_->MultiGet(ids, deadline));
  snapshot.primary = std::move(primary);
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
    // write may replace it, a conditional one cannot match it.
    if (decoded.kind != ValueKind::kTombstone) {
      snapshot.live[i] = true;
      snapshot.live_version[i] = decoded.version;
    }
  }
  if (cold_ids.empty()) return snapshot;
  CATALOG_ASSIGN_OR_RETURN(rows, cold_->MultiGet(cold_ids, deadline));
  for (size_t j = 0; j < cold_ids.size(); ++j) {
    if (!rows[j].has_value()) continue;
    snapshot.last_version[cold_positions[j]] = rows[j]->version;
    if (!IsTombstone(rows[j]->payload)) {
      snapshot.live[cold_positions[j]] = true;
      snapshot.live_version[cold_positions[j]] = rows[j]->version;
    }
  }
  return snapshot;
}

absl::StatusOr<WriteResult> TieredStore::Write(absl::Span<const WriteIntent> intents, RecordEncoder encode,
                                               absl::Time deadline) {
  deadline = Bound(deadline);
  std::vector<std::string> ids;
  ids.reserve(intents.size());
  for (const WriteIntent& intent : intents) ids.push_back(intent.id);

  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    CATALOG_ASSIGN_OR_RETURN(snapshot, Look(ids, deadline));
    WriteResult result;
    std::vector<CasEntry> entries;
    entries.reserve(intents.size());
    for (size_t i = 0; i < intents.size(); ++i) {
      const int64_t expected = intents[i].expected_version;
      if (expected > 0 && expected != snapshot.live_version[i]) {
        result.conflict = VersionConflict{i, expected, snapshot.live_version[i]};
        return result;
      }
      const int64_t version = snapshot.last_version[i] + 1;
      result.versions.push_back(version);
      entries.push_back(CasEntry{ids[i], std::move(snapshot.primary[i]), encode(i, version)});
    }
    CATALOG_ASSIGN_OR_RETURN(applied, primary_->CompareAndSet(entries, deadline));
    if (applied) return result;
    metrics_->Add(Counter::write_conflict_retries_total);
  }
  return absl::AbortedError(absl::StrCat("concurrent modification: gave up after ", options_.max_write_attempts,
                                         " attempts; retry the call"));
}

absl::StatusOr<int64_t> TieredStore::Delete(absl::Span<const std::string> ids, absl::Time deadline) {
  deadline = Bound(deadline);
  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    CATALOG_ASSIGN_OR_RETURN(snapshot, Look(ids, deadline));
    std::vector<CasEntry> entries;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!snapshot.live[i]) continue;  // Nothing to delete under this id.
      entries.push_back(
          CasEntry{ids[i], std::move(snapshot.primary[i]), EncodeTombstone(snapshot.last_version[i] + 1)});
    }
    if (entries.empty()) return 0;
    CATALOG_ASSIGN_OR_RETURN(applied, primary_->CompareAndSet(entries, deadline));
    if (!applied) {
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
    if (!cold_->PutIfNewer(cold_tombstones, deadline).ok()) {
      metrics_->Add(Counter::cold_tombstone_failures_total, static_cast<int64_t>(entries.size()));
    }
    return static_cast<int64_t>(entries.size());
  }
  return absl::AbortedError(absl::StrCat("concurrent modification: gave up after ", options_.max_write_attempts,
                                         " attempts; retry the call"));
}

absl::Status TieredStore::IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) {
  return primary_->IndexAdd(entries, Bound(deadline));
}

absl::StatusOr<std::vector<std::string>> TieredStore::IndexRange(const std::string& index, const std::string& after,
                                                                 int limit, absl::Time deadline) {
  return primary_->IndexRange(index, after, limit, Bound(deadline));
}

absl::StatusOr<DemoteResult> TieredStore::Demote(absl::Duration min_idle, int64_t limit, absl::Time deadline) {
  if (min_idle < min_demote_idle()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idle_seconds: must be at least ", absl::ToInt64Seconds(absl::Ceil(min_demote_idle(), absl::Seconds(1))),
        " (max_call_ms + 1 s), got ", absl::ToInt64Seconds(min_idle)));
  }
  DemoteResult result;
  uint64_t cursor = 0;
  do {
    CATALOG_ASSIGN_OR_RETURN(page, primary_->ScanIdle(cursor, min_idle, options_.demote_scan_count, deadline));
    result.scanned += page.scanned;
    cursor = page.next_cursor;
    std::vector<ColdWrite> records;
    std::vector<IdValue> candidates;
    for (IdValue& idle : page.idle) {
      if (limit > 0 && result.demoted + result.tombstones_demoted + static_cast<int64_t>(candidates.size()) >= limit) {
        break;
      }
      const DecodedValue decoded = DecodeStoredValue(idle.value, type_.version_field_number);
      if (decoded.kind == ValueKind::kCorrupt) continue;  // Left for an operator to inspect.
      records.push_back(ColdWrite{idle.id, idle.value, decoded.version});
      candidates.push_back(std::move(idle));
    }
    // MySQL first: once Redis lets go, the cold tier must already hold the
    // value (a record, or a tombstone superseding the older row).
    if (absl::Status s = cold_->PutIfNewer(records, deadline); !s.ok()) return s;
    // Then remove from Redis only what nobody changed since the scan.
    CATALOG_ASSIGN_OR_RETURN(deleted, primary_->CompareAndDelete(candidates, deadline));
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!deleted[i]) {
        ++result.skipped_changed;
      } else if (IsTombstone(candidates[i].value)) {
        ++result.tombstones_demoted;
      } else {
        ++result.demoted;
      }
    }
  } while (cursor != 0 && (limit == 0 || result.demoted + result.tombstones_demoted < limit));
  metrics_->Add(Counter::demoted_total, result.demoted);
  metrics_->Add(Counter::tombstones_demoted_total, result.tombstones_demoted);
  metrics_->Add(Counter::demote_skipped_changed_total, result.skipped_changed);
  return result;
}

}  // namespace catalog::storage

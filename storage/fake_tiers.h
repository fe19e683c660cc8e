// In-memory PrimaryTier and ColdTier for unit tests, with per-method fault
// injection and call counting. Not for integration tests, which use real
// servers.
#pragma once

#include <functional>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "storage/tiers.h"

namespace catalog::storage {

class FakePrimaryTier : public PrimaryTier {
 public:
  std::map<std::string, std::string> values;
  std::map<std::string, int64_t> idle_seconds;  // Missing: 0.
  absl::Status fail_multi_get, fail_add, fail_cas;
  int multi_get_calls = 0, add_calls = 0, cas_calls = 0;
  // Runs just before a compare-and-set is evaluated (to simulate races).
  std::function<void()> before_cas;

  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time) override {
    ++multi_get_calls;
    if (!fail_multi_get.ok()) return fail_multi_get;
    std::vector<MaybeValue> out;
    for (const std::string& id : ids) {
      auto it = values.find(id);
      out.push_back(it == values.end() ? MaybeValue() : MaybeValue(it->second));
    }
    return out;
  }
  absl::StatusOr<std::vector<bool>> AddIfAbsent(absl::Span<const IdValue> entries, absl::Time) override {
    ++add_calls;
    if (!fail_add.ok()) return fail_add;
    std::vector<bool> out;
    for (const IdValue& e : entries) out.push_back(values.emplace(e.id, e.value).second);
    return out;
  }
  absl::StatusOr<bool> CompareAndSet(absl::Span<const CasEntry> entries, absl::Time) override {
    ++cas_calls;
    if (before_cas) std::exchange(before_cas, nullptr)();
    if (!fail_cas.ok()) return fail_cas;
    for (const CasEntry& e : entries) {
      auto it = values.find(e.id);
      const MaybeValue current = it == values.end() ? MaybeValue() : MaybeValue(it->second);
      if (current != e.expected) return false;
    }
    for (const CasEntry& e : entries) {
      if (e.replacement) values[e.id] = *e.replacement;
    }
    return true;
  }
  absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries, absl::Time) override {
    std::vector<bool> out;
    for (const IdValue& e : entries) {
      auto it = values.find(e.id);
      const bool match = it != values.end() && it->second == e.value;
      if (match) values.erase(it);
      out.push_back(match);
    }
    return out;
  }
  std::map<std::string, std::set<std::string>> indexes;
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time) override {
    if (!fail_multi_get.ok()) return fail_multi_get;
    for (const IndexEntry& e : entries) indexes[e.index].insert(e.id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time) override {
    std::vector<std::string> out;
    const std::set<std::string>& ids = indexes[index];
    for (auto it = ids.upper_bound(after); it != ids.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(*it);
    }
    return out;
  }
  absl::StatusOr<IdleScanPage> ScanIdle(uint64_t, absl::Duration min_idle, int, absl::Time) override {
    IdleScanPage page;
    for (const auto& [id, value] : values) {
      ++page.scanned;
      if (idle_seconds[id] >= absl::ToInt64Seconds(min_idle)) page.idle.push_back({id, value});
    }
    return page;
  }
};

class FakeColdTier : public ColdTier {
 public:
  std::map<std::string, ColdRecord> rows;
  absl::Status fail;
  int multi_get_calls = 0;
  std::vector<std::string> last_multi_get_ids;

  absl::StatusOr<std::vector<std::optional<ColdRecord>>> MultiGet(absl::Span<const std::string> ids,
                                                                  absl::Time) override {
    ++multi_get_calls;
    last_multi_get_ids.assign(ids.begin(), ids.end());
    if (!fail.ok()) return fail;
    std::vector<std::optional<ColdRecord>> out;
    for (const std::string& id : ids) {
      auto it = rows.find(id);
      out.push_back(it == rows.end() ? std::nullopt : std::optional<ColdRecord>(it->second));
    }
    return out;
  }
  absl::Status PutIfNewer(absl::Span<const ColdWrite> records, absl::Time) override {
    if (!fail.ok()) return fail;
    for (const ColdWrite& r : records) {
      auto it = rows.find(r.id);
      if (it == rows.end() || it->second.version < r.version) rows[r.id] = ColdRecord{r.payload, r.version};
    }
    return absl::OkStatus();
  }
};

}  // namespace catalog::storage

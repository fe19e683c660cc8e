// In-memory PrimaryTier and ColdTier for unit tests, with per-method fault
// injection, hooks that run another actor "during" a call (as if the caller
// paused there), and call counting. Not for integration tests, which use
// real servers. Fences are per id here (finer than Redis's per slot, which
// only refuses more).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/tiers.h"

namespace catalog::storage {

class FakePrimaryTier : public PrimaryTier {
 public:
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> fences;
  std::map<std::string, int64_t> idle_seconds;  // Missing: 0.
  std::map<std::string, std::string> requests;
  absl::Status fail_multi_get, fail_add, fail_cas, fail_delete;
  // Apply a compare-and-set, then answer DEADLINE_EXCEEDED (a reply too late).
  bool lose_cas_reply = false;
  int multi_get_calls = 0, add_calls = 0, cas_calls = 0, restore_calls = 0;
  // Ids whose values ScanIdle returned and that are still in `values` with
  // their idle clock reset (RestoreIdle and deletion take them out).
  std::set<std::string> read_by_scan;
  int scan_values_read = 0;
  // Each runs once, just before the named call takes effect.
  std::function<void()> before_cas, before_promote;
  int token = 0;

  FenceToken FenceOf(const std::string& id) const {
    auto it = fences.find(id);
    return it == fences.end() ? FenceToken() : FenceToken(it->second);
  }
  MaybeValue ValueOf(const std::string& id) const {
    auto it = values.find(id);
    return it == values.end() ? MaybeValue() : MaybeValue(it->second);
  }

  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time) override {
    ++multi_get_calls;
    if (!fail_multi_get.ok()) return fail_multi_get;
    std::vector<MaybeValue> out;
    for (const std::string& id : ids) out.push_back(ValueOf(id));
    return out;
  }
  // A replica's data (MultiGetReplicaAsync); none: no replica in use.
  std::optional<std::map<std::string, std::string>> replica;
  absl::Status fail_replica;
  int replica_calls = 0;
  void MultiGetReplicaAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) override {
    if (!replica.has_value()) return PrimaryTier::MultiGetReplicaAsync(ids, deadline, std::move(done));
    ++replica_calls;
    if (!fail_replica.ok()) return done(fail_replica);
    std::vector<ValueView> out;
    for (absl::string_view id : ids) {
      auto it = replica->find(std::string(id));
      out.push_back(it == replica->end() ? ValueView() : ValueView(it->second));
    }
    done(absl::MakeConstSpan(out));
  }
  absl::StatusOr<std::vector<FenceToken>> ReadFences(absl::Span<const std::string> ids, absl::Time) override {
    if (!fail_multi_get.ok()) return fail_multi_get;
    std::vector<FenceToken> out;
    for (const std::string& id : ids) out.push_back(FenceOf(id));
    return out;
  }
  absl::StatusOr<FencedRead> MultiGetFenced(absl::Span<const std::string> ids, absl::Time deadline) override {
    FencedRead read;
    auto values_or = MultiGet(ids, deadline);
    if (!values_or.ok()) return values_or.status();
    read.values = *std::move(values_or);
    for (const std::string& id : ids) read.fences.push_back(FenceOf(id));
    return read;
  }
  absl::StatusOr<std::vector<bool>> Promote(absl::Span<const Promotion> entries, absl::Time) override {
    ++add_calls;
    if (before_promote) std::exchange(before_promote, nullptr)();
    if (!fail_add.ok()) return fail_add;
    std::vector<bool> out;
    for (const Promotion& e : entries) {
      const bool ok = !values.count(e.id) && FenceOf(e.id) == e.fence;
      if (ok) values[e.id] = e.value;
      out.push_back(ok);
    }
    return out;
  }
  absl::StatusOr<CasResult> CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                          absl::Time) override {
    ++cas_calls;
    if (before_cas) std::exchange(before_cas, nullptr)();
    if (!fail_cas.ok()) return fail_cas;
    if (request != nullptr && requests.count(request->request_id)) {
      return CasResult{CasResult::Outcome::kRequestDone, requests[request->request_id]};
    }
    for (const CasEntry& e : entries) {
      if (ValueOf(e.id) != e.expected) return CasResult{};
      if (!e.expected.has_value() && FenceOf(e.id) != e.fence) return CasResult{};
    }
    for (const CasEntry& e : entries) {
      if (e.replacement) values[e.id] = *e.replacement;
    }
    if (request != nullptr) requests[request->request_id] = request->value;
    if (lose_cas_reply) return absl::DeadlineExceededError("reply lost");
    return CasResult{CasResult::Outcome::kApplied, ""};
  }
  absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries, absl::Time) override {
    if (!fail_delete.ok()) return fail_delete;
    std::vector<bool> out;
    const std::string fresh = absl::StrCat("t", ++token);
    for (const IdValue& e : entries) {
      auto it = values.find(e.id);
      const bool match = it != values.end() && it->second == e.value;
      if (match) {
        values.erase(it);
        fences[e.id] = fresh;
        read_by_scan.erase(e.id);
      }
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
  // One page holding every key.
  absl::StatusOr<IdleScanPage> ScanIdle(uint64_t, absl::Duration min_idle, int, int max_values, absl::Time) override {
    IdleScanPage page;
    for (const auto& [id, value] : values) {
      ++page.scanned;
      if (static_cast<int>(page.idle.size()) < max_values && idle_seconds[id] >= absl::ToInt64Seconds(min_idle)) {
        page.idle.push_back({id, value, idle_seconds[id]});
        read_by_scan.insert(id);
        ++scan_values_read;
      }
    }
    return page;
  }
  absl::Status RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration, absl::Time) override {
    ++restore_calls;
    for (const IdleValue& e : entries) read_by_scan.erase(e.id);
    return absl::OkStatus();
  }
  absl::StatusOr<MaybeValue> GetRequest(const std::string& request_id, absl::Time) override {
    if (!fail_multi_get.ok()) return fail_multi_get;
    auto it = requests.find(request_id);
    return it == requests.end() ? MaybeValue() : MaybeValue(it->second);
  }
  absl::StatusOr<int64_t> ExpireRequests(int, absl::Time) override { return 0; }
  // One lock, no expiry (tests release it): enough to drive callers.
  std::string lock_holder;
  int64_t lock_token = 0;
  absl::StatusOr<LockGrant> AcquireDemotionLock(const std::string& holder, absl::Duration, int64_t token_floor,
                                                absl::Time) override {
    if (lock_holder.empty()) {
      lock_holder = holder;
      lock_token = std::max(lock_token, token_floor) + 1;
    }
    if (lock_holder != holder) return LockGrant{false, 0, lock_holder};
    return LockGrant{true, lock_token, ""};
  }
  absl::Status ReleaseDemotionLock(const std::string& holder, absl::Time) override {
    if (lock_holder == holder) lock_holder.clear();
    return absl::OkStatus();
  }
};

class FakeColdTier : public ColdTier {
 public:
  std::map<std::string, ColdRecord> rows;
  absl::Status fail;
  int multi_get_calls = 0, put_calls = 0;
  int64_t max_record_bytes = 1 << 20;
  std::vector<std::string> last_multi_get_ids;
  // Runs once, after a MultiGet has read its rows and before it returns.
  std::function<void()> after_multi_get;

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
    if (after_multi_get) std::exchange(after_multi_get, nullptr)();
    return out;
  }
  int64_t fence_token = 0;  // The greatest fencing token written with.
  absl::StatusOr<std::vector<bool>> PutIfNewer(absl::Span<const ColdWrite> records, absl::Time,
                                               int64_t fencing_token) override {
    ++put_calls;
    if (!fail.ok()) return fail;
    if (fencing_token > 0) {
      if (fencing_token < fence_token) return absl::FailedPreconditionError("fencing token is older");
      fence_token = fencing_token;
    }
    std::vector<bool> held;
    for (const ColdWrite& r : records) {
      auto it = rows.find(r.id);
      if (it == rows.end() || it->second.version < r.version) rows[r.id] = ColdRecord{r.payload, r.version};
      held.push_back(rows[r.id].version == r.version && rows[r.id].payload == r.payload);
    }
    return held;
  }
  absl::StatusOr<int64_t> MaxRecordBytes(absl::Time) override { return max_record_bytes; }
};

// Views in a map, fences as counters: enough to drive CatalogCore.
class FakeViewTier : public ViewTier {
 public:
  std::map<std::pair<std::string, std::string>, std::string> views;  // (id, variant) -> view
  std::map<std::string, int> fences;
  int lookups = 0, fills = 0, invalidations = 0;
  absl::Status fail_invalidate;
  // Runs once, after a LookupViews and before it returns.
  std::function<void()> after_lookup;

  absl::StatusOr<ViewLookup> LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                         absl::Time) override {
    ++lookups;
    ViewLookup out;
    for (const std::string& id : ids) {
      auto it = views.find({id, variant});
      out.views.push_back(it == views.end() ? std::nullopt : MaybeValue(it->second));
      auto f = fences.find(id);
      out.fences.push_back(f == fences.end() ? std::nullopt : FenceToken(absl::StrCat(f->second)));
    }
    if (after_lookup) std::exchange(after_lookup, nullptr)();
    return out;
  }
  absl::Status FillViews(absl::Span<const ViewFill> entries, const std::string& variant, absl::Time) override {
    for (const ViewFill& entry : entries) {
      auto f = fences.find(entry.id);
      const FenceToken now = f == fences.end() ? std::nullopt : FenceToken(absl::StrCat(f->second));
      if (now == entry.fence) {
        views[{entry.id, variant}] = entry.view;
        ++fills;
      }
    }
    return absl::OkStatus();
  }
  absl::Status InvalidateViews(absl::Span<const std::string> ids, const std::string& variant, absl::Time) override {
    if (!fail_invalidate.ok()) return fail_invalidate;
    for (const std::string& id : ids) {
      ++invalidations;
      ++fences[id];
      for (auto it = views.begin(); it != views.end();) {
        it = it->first.first == id && (variant.empty() || it->first.second == variant) ? views.erase(it) : std::next(it);
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace catalog::storage

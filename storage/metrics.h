// Metrics: a fixed registry of counters and gauges, and of labelled counter,
// gauge and histogram families (all listed in storage/metric_list.h), and
// their Prometheus text exposition.
//
// Thread-safety: all methods are safe to call concurrently; updates are
// lock-free relaxed atomics, so a rendering may mix values from slightly
// different moments. Counters and histograms are kept per shard of threads
// (each on its own cache lines) and summed when read, so threads counting
// at once do not fight over one cache line; gauges are single cells (they
// must read exactly: admission compares one).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/metric_list.h"

namespace catalog::storage {

enum class Counter {
#define CATALOG_ENUM_ENTRY(name, help) name,
  CATALOG_COUNTERS(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

enum class Gauge {
#define CATALOG_ENUM_ENTRY(name, help) name,
  CATALOG_GAUGES(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

enum class CounterFamily {
#define CATALOG_ENUM_ENTRY(name, labels, help) name,
  CATALOG_LABELLED_COUNTERS(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

enum class GaugeFamily {
#define CATALOG_ENUM_ENTRY(name, labels, help) name,
  CATALOG_LABELLED_GAUGES(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

enum class HistogramFamily {
#define CATALOG_ENUM_ENTRY(name, labels, help) name,
  CATALOG_LABELLED_HISTOGRAMS(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

namespace metrics_internal {
inline constexpr size_t kShards = 8;
// The calling thread's shard: threads take shards round robin.
inline size_t ThreadShard() {
  static std::atomic<size_t> next{0};
  thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}
struct alignas(64) PaddedCell {
  std::atomic<int64_t> value{0};
};
}  // namespace metrics_internal

// Upper bounds (seconds) of every histogram's buckets; +Inf is implicit.
inline constexpr std::array<double, 12> kBucketBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                         0.05,   0.1,   0.25,  0.5,   1,    5};

// One labelled counter series (from Metrics::Series). Lock-free; kept per
// shard of threads like the plain counters.
class CounterSeries {
 public:
  explicit CounterSeries(const bool* counting) : counting_(counting) {}
  void Add(int64_t delta = 1) {
    if (!*counting_ || delta == 0) return;
    cells_[metrics_internal::ThreadShard()].value.fetch_add(delta, std::memory_order_relaxed);
  }
  int64_t Get() const;

 private:
  const bool* const counting_;
  std::array<metrics_internal::PaddedCell, metrics_internal::kShards> cells_{};
};

// One labelled gauge series: a single cell, exact.
class GaugeSeries {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// One labelled histogram series. Lock-free, per shard of threads.
class HistogramSeries {
 public:
  explicit HistogramSeries(const bool* counting) : counting_(counting) {}
  void Observe(absl::Duration value);
  // Observations so far, and their sum in nanoseconds.
  int64_t Count() const;
  int64_t SumNanos() const;
  // Observations in bucket `b` alone (kBucketBounds.size(): above the
  // last bound); the exposition accumulates them.
  int64_t Bucket(size_t b) const;

 private:
  struct alignas(64) Cells {
    // Stored non-cumulatively.
    std::array<std::atomic<int64_t>, kBucketBounds.size() + 1> buckets{};
    std::atomic<int64_t> sum_nanos{0};
  };
  const bool* const counting_;
  std::array<Cells, metrics_internal::kShards> shards_{};
};

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Off: counters and histograms (plain and labelled) stay at zero (to
  // measure what counting costs); gauges, and admission through them, still
  // work. Call before other threads use the registry. Default on.
  void SetCounting(bool on) { counting_ = on; }

  void Add(Counter counter, int64_t delta = 1) {
    if (!counting_ || delta == 0) return;
    shards_[ThreadShard()].counters[static_cast<size_t>(counter)].fetch_add(delta, std::memory_order_relaxed);
  }
  int64_t Get(Counter counter) const;
  void Set(Gauge gauge, int64_t value) { gauges_[static_cast<size_t>(gauge)].store(value, std::memory_order_relaxed); }
  // Returns the new value.
  int64_t Add(Gauge gauge, int64_t delta) {
    return gauges_[static_cast<size_t>(gauge)].fetch_add(delta, std::memory_order_relaxed) + delta;
  }
  int64_t Get(Gauge gauge) const { return gauges_[static_cast<size_t>(gauge)].load(std::memory_order_relaxed); }
  // Adds one if the gauge is below `limit` (0: no limit); returns whether
  // it did. For admission counters: a refused attempt leaves no trace.
  bool IncrementBelow(Gauge gauge, int64_t limit) {
    std::atomic<int64_t>& cell = gauges_[static_cast<size_t>(gauge)];
    int64_t current = cell.load(std::memory_order_relaxed);
    do {
      if (limit > 0 && current >= limit) return false;
    } while (!cell.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }

  // The series of `family` with these label values (as many as the family
  // declares, in its order; CHECK-fails otherwise), registered on first
  // request. The same labels always give the same series, which lives as
  // long as the registry. Takes a mutex: call at set-up or through a
  // SeriesRow, not once per call.
  CounterSeries* Series(CounterFamily family, const std::vector<std::string>& label_values);
  GaugeSeries* Series(GaugeFamily family, const std::vector<std::string>& label_values);
  HistogramSeries* Series(HistogramFamily family, const std::vector<std::string>& label_values);

  // Prometheus text exposition format 0.0.4, every metric with HELP and TYPE,
  // then the process's own: process_resident_memory_bytes,
  // process_open_fds, process_threads, process_start_time_seconds and
  // catalog_uptime_seconds (read from /proc when rendered).
  std::string RenderPrometheusText() const;

 private:
  static size_t ThreadShard() { return metrics_internal::ThreadShard(); }
  template <typename SeriesT>
  struct Family {
    // Label values joined by '\0' -> series; ordered, so renders are stable.
    std::map<std::string, std::unique_ptr<SeriesT>> series;
  };
  // HELP, TYPE and the series of every labelled family, under mu_.
  void AppendLabelled(std::string* out) const;
  template <typename SeriesT, typename FamilyEnum>
  SeriesT* Register(std::vector<Family<SeriesT>>& families, FamilyEnum family, const char* label_names,
                    const std::vector<std::string>& label_values);

  bool counting_ = true;
  static constexpr size_t kShards = metrics_internal::kShards;
  struct alignas(64) Shard {
    std::array<std::atomic<int64_t>, static_cast<size_t>(Counter::kCount)> counters{};
  };
  std::array<Shard, kShards> shards_{};
  std::array<std::atomic<int64_t>, static_cast<size_t>(Gauge::kCount)> gauges_{};
  const absl::Time created_ = absl::Now();
  mutable absl::Mutex mu_;
  std::vector<Family<CounterSeries>> counter_families_ ABSL_GUARDED_BY(mu_){
      static_cast<size_t>(CounterFamily::kCount)};
  std::vector<Family<GaugeSeries>> gauge_families_ ABSL_GUARDED_BY(mu_){static_cast<size_t>(GaugeFamily::kCount)};
  std::vector<Family<HistogramSeries>> histogram_families_ ABSL_GUARDED_BY(mu_){
      static_cast<size_t>(HistogramFamily::kCount)};
};

// A row of series of one family that share every label but the last, which
// takes one of `N` known values: the series are registered on first use and
// then reached without a lock (an atomic load). For the status code of a
// method, the command of a pool.
template <typename SeriesT, typename FamilyEnum, size_t N>
class SeriesRow {
 public:
  // `metrics` must outlive the row.
  SeriesRow(Metrics* metrics, FamilyEnum family, std::vector<std::string> leading_labels)
      : metrics_(metrics), family_(family), leading_(std::move(leading_labels)) {}
  SeriesRow(const SeriesRow&) = delete;
  SeriesRow& operator=(const SeriesRow&) = delete;

  // The series whose last label is `last` (`index` < N names it; callers
  // pass the same `last` for the same index).
  SeriesT* At(size_t index, absl::string_view last) {
    SeriesT* series = row_[index].load(std::memory_order_acquire);
    if (series != nullptr) return series;
    std::vector<std::string> labels = leading_;
    labels.emplace_back(last);
    // Racing first uses get the same series from the registry.
    series = metrics_->Series(family_, labels);
    row_[index].store(series, std::memory_order_release);
    return series;
  }

 private:
  Metrics* const metrics_;
  const FamilyEnum family_;
  const std::vector<std::string> leading_;
  std::array<std::atomic<SeriesT*>, N> row_{};
};

// Latency and error series of one backend pool by operation: Redis round
// trips by first command, MySQL statements by first keyword. Operations not
// in the known list count as "other", so the label stays bounded.
// Thread-safe, lock-free after each operation's first use.
class OperationMetrics {
 public:
  static constexpr size_t kMaxOperations = 32;
  // `known` (at most kMaxOperations - 1 upper-case names) must outlive this.
  OperationMetrics(Metrics* metrics, HistogramFamily durations, CounterFamily errors, std::string pool,
                   const std::vector<absl::string_view>* known);
  // One operation that took `took` and failed or not. `operation` is
  // matched without regard to case.
  void Record(absl::string_view operation, absl::Duration took, bool failed);
  // An operation that failed before it was sent (no connection): counted
  // as an error only, so the duration histogram stays "time of operations
  // sent" (an outage must not pull its p99 down with zeros).
  void RecordError(absl::string_view operation);

 private:
  size_t Index(absl::string_view operation) const;
  absl::string_view Name(size_t index) const;

  const std::vector<absl::string_view>* const known_;
  SeriesRow<HistogramSeries, HistogramFamily, kMaxOperations> durations_;
  SeriesRow<CounterSeries, CounterFamily, kMaxOperations> errors_;
};

}  // namespace catalog::storage

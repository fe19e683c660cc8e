// Metrics: a fixed registry of counters, gauges and histograms (listed in
// storage/metric_list.h) and their Prometheus text exposition.
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
#include <string>

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

enum class Histogram {
#define CATALOG_ENUM_ENTRY(name, help) name,
  CATALOG_HISTOGRAMS(CATALOG_ENUM_ENTRY)
#undef CATALOG_ENUM_ENTRY
      kCount
};

class Metrics {
 public:
  // Upper bounds (seconds) of the histogram buckets; +Inf is implicit.
  static constexpr std::array<double, 12> kBucketBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                           0.05,   0.1,   0.25,  0.5,   1,    5};

  // Off: counters and histograms stay at zero (to measure what counting
  // costs); gauges, and admission through them, still work. Call before
  // other threads use the registry. Default on.
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
  void Observe(Histogram histogram, absl::Duration value);

  // Prometheus text exposition format 0.0.4, every metric with HELP and TYPE.
  std::string RenderPrometheusText() const;

 private:
  struct HistogramCells {
    std::array<std::atomic<int64_t>, kBucketBounds.size() + 1> buckets{};
    std::atomic<int64_t> sum_nanos{0};
  };
  bool counting_ = true;
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::array<std::atomic<int64_t>, static_cast<size_t>(Counter::kCount)> counters{};
    std::array<HistogramCells, static_cast<size_t>(Histogram::kCount)> histograms{};
  };
  // The calling thread's shard: threads take shards round robin.
  static size_t ThreadShard() {
    static std::atomic<size_t> next{0};
    thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }
  std::array<Shard, kShards> shards_{};
  std::array<std::atomic<int64_t>, static_cast<size_t>(Gauge::kCount)> gauges_{};
};

}  // namespace catalog::storage

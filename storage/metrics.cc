#include "storage/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace catalog::storage {
namespace {
struct Description {
  const char* name;
  const char* help;
};
constexpr Description kCounterDescriptions[] = {
#define CATALOG_DESCRIPTION(name, help) {#name, help},
    CATALOG_COUNTERS(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};
constexpr Description kGaugeDescriptions[] = {
#define CATALOG_DESCRIPTION(name, help) {#name, help},
    CATALOG_GAUGES(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};
constexpr Description kHistogramDescriptions[] = {
#define CATALOG_DESCRIPTION(name, help) {#name, help},
    CATALOG_HISTOGRAMS(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};
}  // namespace

int64_t Metrics::Get(Counter counter) const {
  int64_t total = 0;
  for (const Shard& shard : shards_) total += shard.counters[static_cast<size_t>(counter)].load(std::memory_order_relaxed);
  return total;
}

void Metrics::Observe(Histogram histogram, absl::Duration value) {
  if (!counting_) return;
  HistogramCells& cells = shards_[ThreadShard()].histograms[static_cast<size_t>(histogram)];
  const double seconds = absl::ToDoubleSeconds(value);
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) ++bucket;
  // Buckets are stored non-cumulatively; rendering accumulates them.
  cells.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  cells.sum_nanos.fetch_add(absl::ToInt64Nanoseconds(value), std::memory_order_relaxed);
}

std::string Metrics::RenderPrometheusText() const {
  std::string out;
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const Description& d = kCounterDescriptions[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " counter\ncatalog_",
                    d.name, " ", Get(static_cast<Counter>(i)), "\n");
  }
  for (size_t i = 0; i < gauges_.size(); ++i) {
    const Description& d = kGaugeDescriptions[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " gauge\ncatalog_",
                    d.name, " ", gauges_[i].load(std::memory_order_relaxed), "\n");
  }
  for (size_t i = 0; i < static_cast<size_t>(Histogram::kCount); ++i) {
    const Description& d = kHistogramDescriptions[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " histogram\n");
    int64_t cumulative = 0;
    int64_t sum_nanos = 0;
    for (const Shard& shard : shards_) sum_nanos += shard.histograms[i].sum_nanos.load(std::memory_order_relaxed);
    for (size_t b = 0; b < kBucketBounds.size() + 1; ++b) {
      for (const Shard& shard : shards_) cumulative += shard.histograms[i].buckets[b].load(std::memory_order_relaxed);
      const std::string bound = b < kBucketBounds.size() ? absl::StrFormat("%g", kBucketBounds[b]) : "+Inf";
      absl::StrAppend(&out, "catalog_", d.name, "_bucket{le=\"", bound, "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "catalog_", d.name, "_sum ",
                    absl::StrFormat("%.9f", sum_nanos / 1e9), "\n", "catalog_",
                    d.name, "_count ", cumulative, "\n");
  }
  return out;
}

}  // namespace catalog::storage

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

void Metrics::Observe(Histogram histogram, absl::Duration value) {
  if (!counting_) return;
  HistogramCells& cells = histograms_[static_cast<size_t>(histogram)];
  const double seconds = absl::ToDoubleSeconds(value);
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) ++bucket;
  // Buckets are stored non-cumulatively; rendering accumulates them.
  cells.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  cells.count.fetch_add(1, std::memory_order_relaxed);
  cells.sum_nanos.fetch_add(absl::ToInt64Nanoseconds(value), std::memory_order_relaxed);
}

std::string Metrics::RenderPrometheusText() const {
  std::string out;
  for (size_t i = 0; i < counters_.size(); ++i) {
    const Description& d = kCounterDescriptions[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " counter\ncatalog_",
                    d.name, " ", counters_[i].load(std::memory_order_relaxed), "\n");
  }
  for (size_t i = 0; i < gauges_.size(); ++i) {
    const Description& d = kGaugeDescriptions[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " gauge\ncatalog_",
                    d.name, " ", gauges_[i].load(std::memory_order_relaxed), "\n");
  }
  for (size_t i = 0; i < histograms_.size(); ++i) {
    const Description& d = kHistogramDescriptions[i];
    const HistogramCells& cells = histograms_[i];
    absl::StrAppend(&out, "# HELP catalog_", d.name, " ", d.help, "\n# TYPE catalog_", d.name, " histogram\n");
    int64_t cumulative = 0;
    for (size_t b = 0; b < cells.buckets.size(); ++b) {
      cumulative += cells.buckets[b].load(std::memory_order_relaxed);
      const std::string bound = b < kBucketBounds.size() ? absl::StrFormat("%g", kBucketBounds[b]) : "+Inf";
      absl::StrAppend(&out, "catalog_", d.name, "_bucket{le=\"", bound, "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "catalog_", d.name, "_sum ",
                    absl::StrFormat("%.9f", cells.sum_nanos.load(std::memory_order_relaxed) / 1e9), "\n", "catalog_",
                    d.name, "_count ", cumulative, "\n");
  }
  return out;
}

}  // namespace catalog::storage

#include "storage/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"

namespace catalog::storage {
namespace {
struct Description {
  const char* name;
  const char* help;
};
struct LabelledDescription {
  const char* name;
  const char* labels;  // Comma-separated label names.
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
constexpr LabelledDescription kCounterFamilies[] = {
#define CATALOG_DESCRIPTION(name, labels, help) {#name, labels, help},
    CATALOG_LABELLED_COUNTERS(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};
constexpr LabelledDescription kGaugeFamilies[] = {
#define CATALOG_DESCRIPTION(name, labels, help) {#name, labels, help},
    CATALOG_LABELLED_GAUGES(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};
constexpr LabelledDescription kHistogramFamilies[] = {
#define CATALOG_DESCRIPTION(name, labels, help) {#name, labels, help},
    CATALOG_LABELLED_HISTOGRAMS(CATALOG_DESCRIPTION)
#undef CATALOG_DESCRIPTION
};

// A label value as the exposition format wants it: \, " and newline escaped.
std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// `{a="x",b="y"` (no closing brace: histograms append le).
std::string LabelPairs(const char* label_names, absl::string_view joined_values) {
  const std::vector<absl::string_view> names = absl::StrSplit(label_names, ',');
  const std::vector<absl::string_view> values = absl::StrSplit(joined_values, '\0');
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  return out;
}

void AppendHeader(std::string* out, const char* name, const char* help, const char* type) {
  absl::StrAppend(out, "# HELP catalog_", name, " ", help, "\n# TYPE catalog_", name, " ", type, "\n");
}

// The process's own figures, read from /proc/self; a figure that cannot be
// read is left out rather than reported as zero.
void AppendProcessMetrics(std::string* out, absl::Time created) {
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    absl::StrAppend(out,
                    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
                    resident_pages * sysconf(_SC_PAGESIZE), "\n");
  }
  if (DIR* dir = opendir("/proc/self/fd"); dir != nullptr) {
    int64_t fds = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++fds;
    }
    closedir(dir);
    absl::StrAppend(out,
                    "# HELP process_open_fds Open file descriptors (this count's own included).\n"
                    "# TYPE process_open_fds gauge\nprocess_open_fds ",
                    fds - 1, "\n");
  }
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "Threads:")) {
      absl::StrAppend(out, "# HELP process_threads Threads of the process.\n# TYPE process_threads gauge\nprocess_threads ",
                      absl::StripAsciiWhitespace(absl::string_view(line).substr(8)), "\n");
      break;
    }
  }
  absl::StrAppend(out,
                  "# HELP process_start_time_seconds Unix time the process's metrics registry was created (at start).\n"
                  "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
                  absl::ToUnixSeconds(created), "\n",
                  "# HELP catalog_uptime_seconds Seconds since the process started.\n"
                  "# TYPE catalog_uptime_seconds gauge\ncatalog_uptime_seconds ",
                  absl::StrFormat("%.3f", absl::ToDoubleSeconds(absl::Now() - created)), "\n");
}
}  // namespace

int64_t CounterSeries::Get() const {
  int64_t total = 0;
  for (const metrics_internal::PaddedCell& cell : cells_) total += cell.value.load(std::memory_order_relaxed);
  return total;
}

void HistogramSeries::Observe(absl::Duration value) {
  if (!*counting_) return;
  // Timings come from the wall clock: a step backwards must not make _sum
  // fall (Prometheus would read a counter reset).
  value = std::max(value, absl::ZeroDuration());
  Cells& cells = shards_[metrics_internal::ThreadShard()];
  const double seconds = absl::ToDoubleSeconds(value);
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) ++bucket;
  cells.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  cells.sum_nanos.fetch_add(absl::ToInt64Nanoseconds(value), std::memory_order_relaxed);
}

int64_t HistogramSeries::Bucket(size_t b) const {
  int64_t total = 0;
  for (const Cells& cells : shards_) total += cells.buckets[b].load(std::memory_order_relaxed);
  return total;
}

int64_t HistogramSeries::Count() const {
  int64_t total = 0;
  for (size_t b = 0; b <= kBucketBounds.size(); ++b) total += Bucket(b);
  return total;
}

int64_t HistogramSeries::SumNanos() const {
  int64_t total = 0;
  for (const Cells& cells : shards_) total += cells.sum_nanos.load(std::memory_order_relaxed);
  return total;
}

int64_t Metrics::Get(Counter counter) const {
  int64_t total = 0;
  for (const Shard& shard : shards_) total += shard.counters[static_cast<size_t>(counter)].load(std::memory_order_relaxed);
  return total;
}

template <typename SeriesT, typename FamilyEnum>
SeriesT* Metrics::Register(std::vector<Family<SeriesT>>& families, FamilyEnum family, const char* label_names,
                           const std::vector<std::string>& label_values) {
  const size_t expected = std::vector<absl::string_view>(absl::StrSplit(label_names, ',')).size();
  if (label_values.size() != expected) {
    // A programming error (a family used with the wrong labels), found by
    // any test that reaches the call.
    std::fprintf(stderr, "catalog metric registered with %zu label values, want %s\n", label_values.size(),
                 label_names);
    std::abort();
  }
  const std::string key = absl::StrJoin(label_values, absl::string_view("\0", 1));
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SeriesT>& series = families[static_cast<size_t>(family)].series[key];
  if (series == nullptr) {
    if constexpr (std::is_same_v<SeriesT, GaugeSeries>) {
      series = std::make_unique<SeriesT>();
    } else {
      series = std::make_unique<SeriesT>(&counting_);
    }
  }
  return series.get();
}

CounterSeries* Metrics::Series(CounterFamily family, const std::vector<std::string>& label_values) {
  return Register(counter_families_, family, kCounterFamilies[static_cast<size_t>(family)].labels, label_values);
}
GaugeSeries* Metrics::Series(GaugeFamily family, const std::vector<std::string>& label_values) {
  return Register(gauge_families_, family, kGaugeFamilies[static_cast<size_t>(family)].labels, label_values);
}
HistogramSeries* Metrics::Series(HistogramFamily family, const std::vector<std::string>& label_values) {
  return Register(histogram_families_, family, kHistogramFamilies[static_cast<size_t>(family)].labels, label_values);
}

namespace {
// Counter and gauge families: one sample per series.
template <typename Families>
void AppendSimpleFamilies(std::string* out, const Families& families, const LabelledDescription* descriptions,
                          const char* type) {
  for (size_t i = 0; i < families.size(); ++i) {
    const LabelledDescription& d = descriptions[i];
    AppendHeader(out, d.name, d.help, type);
    for (const auto& [labels, series] : families[i].series) {
      absl::StrAppend(out, "catalog_", d.name, LabelPairs(d.labels, labels), "} ", series->Get(), "\n");
    }
  }
}
}  // namespace

void Metrics::AppendLabelled(std::string* out) const {
  absl::MutexLock lock(&mu_);
  AppendSimpleFamilies(out, counter_families_, kCounterFamilies, "counter");
  AppendSimpleFamilies(out, gauge_families_, kGaugeFamilies, "gauge");
  for (size_t i = 0; i < histogram_families_.size(); ++i) {
    const LabelledDescription& d = kHistogramFamilies[i];
    AppendHeader(out, d.name, d.help, "histogram");
    for (const auto& [labels, series] : histogram_families_[i].series) {
      const std::string pairs = LabelPairs(d.labels, labels);
      int64_t cumulative = 0;
      for (size_t b = 0; b < kBucketBounds.size() + 1; ++b) {
        cumulative += series->Bucket(b);
        const std::string bound = b < kBucketBounds.size() ? absl::StrFormat("%g", kBucketBounds[b]) : "+Inf";
        absl::StrAppend(out, "catalog_", d.name, "_bucket", pairs, ",le=\"", bound, "\"} ", cumulative, "\n");
      }
      // _count is +Inf's figure, so the two always agree in one render.
      absl::StrAppend(out, "catalog_", d.name, "_sum", pairs, "} ", absl::StrFormat("%.9f", series->SumNanos() / 1e9),
                      "\n", "catalog_", d.name, "_count", pairs, "} ", cumulative, "\n");
    }
  }
}

std::string Metrics::RenderPrometheusText() const {
  std::string out;
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const Description& d = kCounterDescriptions[i];
    AppendHeader(&out, d.name, d.help, "counter");
    absl::StrAppend(&out, "catalog_", d.name, " ", Get(static_cast<Counter>(i)), "\n");
  }
  for (size_t i = 0; i < gauges_.size(); ++i) {
    const Description& d = kGaugeDescriptions[i];
    AppendHeader(&out, d.name, d.help, "gauge");
    absl::StrAppend(&out, "catalog_", d.name, " ", gauges_[i].load(std::memory_order_relaxed), "\n");
  }
  AppendLabelled(&out);
  // After the registry lock is released: a series' first use waits for it.
  AppendProcessMetrics(&out, created_);
  return out;
}

OperationMetrics::OperationMetrics(Metrics* metrics, HistogramFamily durations, CounterFamily errors, std::string pool,
                                   const std::vector<absl::string_view>* known)
    : known_(known), durations_(metrics, durations, {pool}), errors_(metrics, errors, {pool}) {
  if (known->size() >= kMaxOperations) {
    std::fprintf(stderr, "OperationMetrics: %zu known operations, at most %zu\n", known->size(), kMaxOperations - 1);
    std::abort();
  }
}

size_t OperationMetrics::Index(absl::string_view operation) const {
  for (size_t i = 0; i < known_->size(); ++i) {
    if (absl::EqualsIgnoreCase((*known_)[i], operation)) return i;
  }
  return known_->size();  // "other"
}

absl::string_view OperationMetrics::Name(size_t index) const {
  return index < known_->size() ? (*known_)[index] : absl::string_view("other");
}

void OperationMetrics::Record(absl::string_view operation, absl::Duration took, bool failed) {
  const size_t index = Index(operation);
  durations_.At(index, Name(index))->Observe(took);
  if (failed) errors_.At(index, Name(index))->Add();
}

void OperationMetrics::RecordError(absl::string_view operation) {
  const size_t index = Index(operation);
  errors_.At(index, Name(index))->Add();
}

}  // namespace catalog::storage

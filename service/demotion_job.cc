#include "service/demotion_job.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace catalog::service {

DemotionJob::DemotionJob(CatalogCore* core, storage::Metrics* metrics, const Logger* logger,
                         DemotionJobOptions options,
                         absl::flat_hash_map<std::string, const storage::RedisMonitor*> memory,
                         const std::atomic<bool>* stopping)
    : core_(core),
      metrics_(metrics),
      logger_(logger),
      options_(options),
      memory_(std::move(memory)),
      stopping_(stopping) {
  if (options_.interval <= absl::ZeroDuration()) return;
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) Tick();
  });
}

DemotionJob::~DemotionJob() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::Duration DemotionJob::MinIdleNow(const std::string& record_type) const {
  // The deployment's own reading, not the redis_* gauges: those describe
  // the products' deployment only.
  auto monitor = memory_.find(record_type);
  if (monitor == memory_.end() || monitor->second == nullptr) return options_.idle;
  const storage::RedisMonitor::Memory memory = monitor->second->LastMemory();
  const int64_t target = options_.target_bytes > 0 ? options_.target_bytes : memory.max_bytes / 10 * 8;
  return target > 0 && memory.used_bytes > target ? std::min(options_.pressure_idle, options_.idle) : options_.idle;
}

void DemotionJob::Tick() {
  // Each record type under its own lock (products, then offers).
  for (const char* type : {"products", "offers"}) Run(type);
}

void DemotionJob::Run(const std::string& record_type) {
  const absl::Duration min_idle = MinIdleNow(record_type);
  // A run ends by the next tick; it stops between pages on shutdown.
  const absl::Time deadline = absl::Now() + std::max(options_.interval, absl::Seconds(10));
  absl::StatusOr<storage::DemoteResult> result =
      core_->Demote(absl::ToInt64Seconds(min_idle), options_.max_records, deadline,
                    [this] { return stop_.HasBeenNotified() || stopping_->load(); }, record_type);
  if (absl::IsFailedPrecondition(result.status())) {
    logger_->Log(LogChannel::kTiering, LogLevel::kDebug,
                 absl::StrCat("background demotion of ", record_type, " skipped: ", result.status().message()));
    return;
  }
  metrics_->Add(storage::Counter::demotion_runs_total);
  if (!result.ok()) {
    logger_->Log(LogChannel::kTiering, absl::IsCancelled(result.status()) ? LogLevel::kInfo : LogLevel::kWarning,
                 absl::StrCat("background demotion of ", record_type, " (idle >= ", absl::FormatDuration(min_idle),
                              "): ", result.status().message()));
    return;
  }
  metrics_->Set(storage::Gauge::demotion_last_success_timestamp_seconds, absl::ToUnixSeconds(absl::Now()));
  if (result->demoted + result->tombstones_demoted > 0 || result->too_large > 0) {
    logger_->Log(LogChannel::kTiering, LogLevel::kInfo,
                 absl::StrCat("background demotion of ", record_type, " (idle >= ", absl::FormatDuration(min_idle),
                              "): scanned ", result->scanned, ", demoted ", result->demoted, ", tombstones ",
                              result->tombstones_demoted, ", bytes ", result->bytes, ", too large ",
                              result->too_large));
  }
}

}  // namespace catalog::service

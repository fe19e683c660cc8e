#include "service/maintenance.h"

#include <malloc.h>

#include "absl/strings/str_cat.h"

namespace catalog::service {

Maintenance::Maintenance(storage::RedisMonitor* monitor, storage::TieredStore* store, storage::Metrics* metrics,
                         const Logger* logger, absl::Duration interval)
    : monitor_(monitor), store_(store), metrics_(metrics), logger_(logger), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

Maintenance::~Maintenance() {
  stop_.Notify();
  thread_.join();
}

void Maintenance::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) Tick();
}

void Maintenance::Tick() {
  const absl::Time deadline = absl::Now() + std::min(interval_, absl::Seconds(5));
  const absl::Status policy = monitor_->CheckOnce(deadline);
  // An unsafe policy is a configuration error: say so loudly, once per change.
  if (absl::IsFailedPrecondition(policy) && last_policy_code_ != policy.code()) {
    logger_->Log(LogLevel::kError, "storage", policy.message());
  }
  if (policy.ok() && last_policy_code_ == absl::StatusCode::kFailedPrecondition) {
    logger_->Log(LogLevel::kInfo, "storage", "Redis maxmemory-policy is safe again");
  }
  if (policy.ok() || absl::IsFailedPrecondition(policy)) last_policy_code_ = policy.code();

  for (int batch = 0; batch < 10; ++batch) {  // At most 10,000 entries a tick.
    absl::StatusOr<int64_t> expired = store_->ExpireRequests(1000, deadline);
    if (!expired.ok()) break;
    metrics_->Add(storage::Counter::request_entries_expired_total, *expired);
    if (*expired < 1000) break;
  }
  malloc_trim(0);
}

}  // namespace catalog::service

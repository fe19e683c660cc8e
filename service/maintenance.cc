#include "service/maintenance.h"

#include <malloc.h>

#include "absl/strings/str_cat.h"

namespace catalog::service {

Maintenance::Maintenance(std::vector<Watched> watched, std::vector<storage::TieredStore*> stores,
                         storage::Metrics* metrics, const Logger* logger, absl::Duration interval,
                         Readiness* readiness)
    : watched_(std::move(watched)),
      stores_(std::move(stores)),
      metrics_(metrics),
      logger_(logger),
      interval_(interval),
      readiness_(readiness),
      last_policy_codes_(watched_.size(), absl::StatusCode::kOk) {
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
  // Each step gets its own deadline: a Redis that hangs delays only its own
  // check, never another deployment's or the request logs' expiry.
  auto deadline = [this] { return absl::Now() + std::min(interval_, absl::Seconds(5)); };
  int64_t policy_ok = 1;  // Of all deployments: 0 if any is unsafe, -1 if any is not known.
  bool reachable = true;
  for (size_t i = 0; i < watched_.size(); ++i) {
    const absl::Status policy = watched_[i].monitor->CheckOnce(deadline());
    if (absl::IsUnavailable(policy) || absl::IsDeadlineExceeded(policy)) reachable = false;
    absl::StatusCode& last = last_policy_codes_[i];
    // An unsafe policy is a configuration error: say so loudly, once per change.
    if (absl::IsFailedPrecondition(policy) && last != policy.code()) {
      logger_->Log(LogChannel::kStorage, LogLevel::kError,
                   absl::StrCat("deployment \"", watched_[i].deployment, "\": ", policy.message()));
    }
    if (policy.ok() && last == absl::StatusCode::kFailedPrecondition) {
      logger_->Log(LogChannel::kStorage, LogLevel::kInfo,
                   absl::StrCat("deployment \"", watched_[i].deployment, "\": Redis maxmemory-policy is safe again"));
    }
    if (policy.ok() || absl::IsFailedPrecondition(policy)) last = policy.code();
    if (last == absl::StatusCode::kFailedPrecondition) {
      policy_ok = 0;
    } else if (!policy.ok() && policy_ok == 1) {
      policy_ok = -1;
    }
  }
  metrics_->Set(storage::Gauge::redis_maxmemory_policy_ok, policy_ok);
  // Logged when reachability changes, not when draining does.
  if (readiness_ != nullptr && readiness_->SetBackendsReachable(reachable)) {
    logger_->Log(LogChannel::kStorage, reachable ? LogLevel::kInfo : LogLevel::kWarning,
                 reachable ? "every Redis deployment answers again: SERVING"
                           : "a Redis deployment does not answer: health NOT_SERVING until it does");
  }
  for (storage::TieredStore* store : stores_) {
    // Writes across Redis Cluster nodes whose writer died between steps
    // (nothing to do on one Redis).
    if (absl::StatusOr<int64_t> settled = store->ResolveStale(deadline()); !settled.ok()) {
      logger_->Log(LogChannel::kStorage, LogLevel::kWarning,
                   absl::StrCat("settling unfinished cluster writes: ", settled.status().message()));
    }
    for (int batch = 0; batch < 10; ++batch) {  // At most 10,000 entries a tick per store.
      absl::StatusOr<int64_t> expired = store->ExpireRequests(1000, deadline());
      if (!expired.ok()) break;
      metrics_->Add(storage::Counter::request_entries_expired_total, *expired);
      if (*expired < 1000) break;
    }
  }
  malloc_trim(0);
}

}  // namespace catalog::service

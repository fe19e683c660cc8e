// Maintenance: the server's one background thread. Every `interval` it
//  - polls Redis INFO (gauges, maxmemory-policy check; a policy that became
//    unsafe is logged at ERROR once per change),
//  - removes request-id entries past their retention (bounded per tick),
//  - returns freed heap pages to the kernel (malloc_trim), so a burst of
//    large requests does not leave the process's RSS high for good.
//
// Ownership: owns its thread; the destructor stops and joins it.
// Thread-safety: construct and destroy from one thread.
#pragma once

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/logger.h"
#include "storage/redis/redis_monitor.h"
#include "storage/tiering/tiered_store.h"

namespace catalog::service {

class Maintenance {
 public:
  // All pointers must outlive this object. Starts the thread.
  Maintenance(storage::RedisMonitor* monitor, storage::TieredStore* store, storage::Metrics* metrics,
              const Logger* logger, absl::Duration interval);
  ~Maintenance();

 private:
  void Run();
  void Tick();

  storage::RedisMonitor* const monitor_;
  storage::TieredStore* const store_;
  storage::Metrics* const metrics_;
  const Logger* const logger_;
  const absl::Duration interval_;
  absl::StatusCode last_policy_code_ = absl::StatusCode::kOk;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace catalog::service

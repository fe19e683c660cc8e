// Maintenance: the server's one background thread. Every `interval` it
//  - polls INFO of every Redis deployment (gauges for the products' one,
//    maxmemory-policy check for all: a policy that became unsafe is logged
//    at ERROR once per change, naming the deployment, and the gauge
//    redis_maxmemory_policy_ok covers them all),
//  - removes request-id entries past their retention from every store
//    (products, offers; bounded per tick),
//  - returns freed heap pages to the kernel (malloc_trim), so a burst of
//    large requests does not leave the process's RSS high for good,
//  - tells `readiness` whether every deployment answered (a policy check
//    that failed for want of an answer: UNAVAILABLE or DEADLINE_EXCEEDED).
//
// Ownership: owns its thread; the destructor stops and joins it.
// Thread-safety: construct and destroy from one thread.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/logger.h"
#include "service/readiness.h"
#include "storage/redis/redis_monitor.h"
#include "storage/tiering/tiered_store.h"

namespace catalog::service {

class Maintenance {
 public:
  struct Watched {
    std::string deployment;  // For messages.
    storage::RedisMonitor* monitor;
  };
  // All pointers must outlive this object. Starts the thread.
  Maintenance(std::vector<Watched> watched, std::vector<storage::TieredStore*> stores, storage::Metrics* metrics,
              const Logger* logger, absl::Duration interval, Readiness* readiness);
  ~Maintenance();

 private:
  void Run();
  void Tick();

  const std::vector<Watched> watched_;
  const std::vector<storage::TieredStore*> stores_;
  storage::Metrics* const metrics_;
  const Logger* const logger_;
  const absl::Duration interval_;
  Readiness* const readiness_;
  std::vector<absl::StatusCode> last_policy_codes_;  // Per watched deployment.
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace catalog::service

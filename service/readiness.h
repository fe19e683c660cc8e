// Readiness: whether this instance should be sent new calls, as balancers
// see it through the gRPC health service (grpc.health.v1, service "") and
// GET /ready on metrics_listen_address. Not serving while draining (after
// SIGTERM, for drain_delay_ms before the listeners stop), nor while the
// last maintenance check could not reach a Redis deployment (calls would
// fail UNAVAILABLE anyway; a balancer then tries another instance). An
// unsafe maxmemory-policy does not change it: that is logged and graphed.
//
// Thread-safety: every method may be called from any thread. The listener
// runs on the thread whose call changed the state, under an internal lock
// (so changes reach it in order); it must not call back into Readiness.
#pragma once

#include <atomic>
#include <functional>

#include "absl/synchronization/mutex.h"

namespace catalog::service {

class Readiness {
 public:
  // Called with the new state on every change (and not before).
  void SetListener(std::function<void(bool serving)> listener);

  // For good: the instance is stopping.
  void SetDraining();
  // The outcome of the latest check of every Redis deployment; true if it
  // differs from the previous one.
  bool SetBackendsReachable(bool reachable);

  bool Serving() const { return !draining_.load() && reachable_.load(); }

 private:
  std::atomic<bool> draining_{false};
  std::atomic<bool> reachable_{true};
  absl::Mutex mu_;  // Serializes changes, so listeners see them in order.
  std::function<void(bool)> listener_;
};

}  // namespace catalog::service

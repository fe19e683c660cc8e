#include "service/readiness.h"

namespace catalog::service {

void Readiness::SetListener(std::function<void(bool serving)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

void Readiness::SetDraining() {
  absl::MutexLock lock(&mu_);
  const bool was = Serving();
  draining_ = true;
  if (was != Serving() && listener_) listener_(Serving());
}

void Readiness::SetBackendsReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  const bool was = Serving();
  reachable_ = reachable;
  if (was != Serving() && listener_) listener_(Serving());
}

}  // namespace catalog::service

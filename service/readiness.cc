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

bool Readiness::SetBackendsReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  const bool was = Serving();
  const bool changed = reachable_.exchange(reachable) != reachable;
  if (was != Serving() && listener_) listener_(Serving());
  return changed;
}

}  // namespace catalog::service

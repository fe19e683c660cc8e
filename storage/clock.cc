#include "storage/clock.h"

#include <chrono>

namespace catalog::storage {
namespace {
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};
class MonotonicClock final : public Clock {
 public:
  absl::Time Now() const override {
    return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
};
}  // namespace

const Clock* Clock::Monotonic() {
  static const MonotonicClock* const clock = new MonotonicClock();
  return clock;
}

const Clock* Clock::Real() {
  static const RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace catalog::storage

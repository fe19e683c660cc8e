// Clock: the time source injected into every component that reads time, so
// tests can substitute a fake one.
//
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace catalog::storage {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // A process-wide real-time clock. Never deleted.
  static const Clock* Real();
  // A process-wide clock that never steps (steady_clock, as a time since
  // an arbitrary epoch): for durations and leases only. Never deleted.
  static const Clock* Monotonic();
};

}  // namespace catalog::storage

// Executor: where work that may block (MySQL, synchronous Redis) runs when
// it continues a call that started on an event-loop thread, which must not
// block. Injected like LevelDB's Env, so tests can run tasks inline.
//
// Thread-safety: Run() is safe from any thread.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace catalog::storage {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` once, on some thread, maybe this one.
  virtual void Run(std::function<void()> task) = 0;
  // Runs every task at once on the calling thread. Never deleted.
  static Executor* Inline();
};

// A fixed set of threads taking tasks in order. The destructor runs the
// tasks already queued, then joins the threads.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int threads);
  ~ThreadPoolExecutor() override;
  void Run(std::function<void()> task) override;

 private:
  void Work();
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace catalog::storage

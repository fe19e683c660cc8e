#include "storage/executor.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace catalog::storage {
namespace {

TEST_CASE("the thread pool runs every task on its own threads, and the queued ones before it is destroyed") {
  std::atomic<int> ran{0};
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  {
    ThreadPoolExecutor pool(3);
    for (int i = 0; i < 1000; ++i) {
      pool.Run([&] {
        {
          absl::MutexLock lock(&mu);
          threads.insert(std::this_thread::get_id());
        }
        ++ran;
      });
    }
  }
  CHECK(ran == 1000);
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK(threads.size() <= 3);
}

TEST_CASE("the inline executor runs the task before returning") {
  bool ran = false;
  Executor::Inline()->Run([&] { ran = true; });
  CHECK(ran);
}

}  // namespace
}  // namespace catalog::storage

#include "storage/redis_async.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace catalog::storage {

// One event loop, its thread and its connection. Everything but Post()
// runs on the loop thread.
class AsyncRedis::Loop {
 public:
  Loop(const AsyncRedisOptions& options, const std::string& endpoint) : options_(options), endpoint_(endpoint) {
    base_ = event_base_new();
    wakeup_ = event_new(base_, -1, EV_PERSIST, &Loop::OnWakeup, this);
    event_add(wakeup_, nullptr);
    thread_ = std::thread([this] { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); });
  }

  ~Loop() {
    event_base_loopbreak(base_);
    thread_.join();
    // The thread is gone: this thread owns the loop now.
    if (context_ != nullptr) redisAsyncFree(context_);  // Pending commands get UNAVAILABLE.
    std::vector<Item> left;
    {
      absl::MutexLock lock(&mu_);
      left.swap(inbox_);
    }
    for (Item& item : left) item.done(absl::UnavailableError(absl::StrCat(endpoint_, ": client shutting down")));
    event_free(wakeup_);
    event_base_free(base_);
  }

  void Post(RedisCommand command, absl::Time deadline, Done done) {
    {
      absl::MutexLock lock(&mu_);
      inbox_.push_back(Item{std::move(command), deadline, std::move(done)});
    }
    event_active(wakeup_, EV_READ, 0);
  }

 private:
  struct Item {
    RedisCommand command;
    absl::Time deadline;
    Done done;
  };
  // One command sent: owned by hiredis (as its callback's privdata) until
  // its reply callback runs, which hiredis guarantees exactly once (with a
  // null reply when the connection goes away).
  struct Pending {
    Loop* loop;
    Done done;
    event* timer = nullptr;
    bool finished = false;
    bool callers_deadline = false;
  };

  static void OnWakeup(evutil_socket_t, short, void* arg) { static_cast<Loop*>(arg)->Drain(); }

  void Drain() {
    std::vector<Item> items;
    {
      absl::MutexLock lock(&mu_);
      items.swap(inbox_);
    }
    for (Item& item : items) Start(std::move(item));
  }

  void Start(Item item) {
    const absl::Time now = absl::Now();
    if (now >= item.deadline) {
      item.done(absl::DeadlineExceededError(absl::StrCat(endpoint_, ": deadline exceeded before sending")));
      return;
    }
    if (context_ == nullptr && !Connect(item)) return;
    auto* pending = new Pending{this, std::move(item.done)};
    const absl::Time bound = std::min(item.deadline, now + options_.command_timeout);
    pending->callers_deadline = bound == item.deadline;
    pending->timer = evtimer_new(base_, &Loop::OnTimer, pending);
    const timeval wait = absl::ToTimeval(std::max(bound - now, absl::Microseconds(1)));
    evtimer_add(pending->timer, &wait);
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(item.command.size());
    lengths.reserve(item.command.size());
    for (const std::string& arg : item.command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAsyncCommandArgv(context_, &Loop::OnReply, pending, static_cast<int>(argv.size()), argv.data(),
                              lengths.data()) != REDIS_OK) {
      // Not queued: hiredis will never call back for it.
      Finish(pending, absl::UnavailableError(absl::StrCat(endpoint_, ": cannot send: ", context_->errstr)));
      delete pending;
    }
  }

  // Opens the connection (replies and errors come through the callbacks).
  bool Connect(Item& item) {
    redisAsyncContext* context = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (context == nullptr || context->err != 0) {
      item.done(absl::UnavailableError(
          absl::StrCat(endpoint_, ": connect: ", context != nullptr ? context->errstr : "out of memory")));
      if (context != nullptr) redisAsyncFree(context);
      return false;
    }
    context->data = this;
    // Replies of a 1000-key MGET reach ~600 KB: keep the reader's buffer.
    context->c.reader->maxbuf = 1 << 20;
    redisLibeventAttach(context, base_);
    redisAsyncSetConnectCallback(context, &Loop::OnConnect);
    redisAsyncSetDisconnectCallback(context, &Loop::OnDisconnect);
    context_ = context;
    return true;
  }

  void Finish(Pending* pending, absl::StatusOr<const redisReply*> reply) {
    pending->finished = true;
    if (pending->timer != nullptr) {
      event_free(pending->timer);
      pending->timer = nullptr;
    }
    pending->done(reply);
  }

  static void OnReply(redisAsyncContext* context, void* reply, void* privdata) {
    auto* pending = static_cast<Pending*>(privdata);
    Loop* loop = pending->loop;
    if (!pending->finished) {
      if (reply == nullptr) {
        loop->Finish(pending,
                     absl::UnavailableError(absl::StrCat(
                         loop->endpoint_, ": ",
                         context->errstr != nullptr && context->err != 0 ? context->errstr : "connection closed")));
      } else {
        loop->Finish(pending, static_cast<const redisReply*>(reply));
      }
    }
    delete pending;
  }

  static void OnTimer(evutil_socket_t, short, void* arg) {
    auto* pending = static_cast<Pending*>(arg);
    Loop* loop = pending->loop;
    const bool callers = pending->callers_deadline;
    // The reply callback still comes later (and frees `pending`).
    loop->Finish(
        pending,
        callers ? absl::DeadlineExceededError(absl::StrCat(loop->endpoint_, ": deadline exceeded waiting for reply"))
                : absl::UnavailableError(absl::StrCat(loop->endpoint_, ": no reply within ",
                                                      absl::FormatDuration(loop->options_.command_timeout))));
    // Redis is not answering: drop the connection (its other commands fail
    // UNAVAILABLE now instead of waiting) and reconnect on the next command.
    if (!callers && loop->context_ != nullptr) {
      redisAsyncContext* context = loop->context_;
      loop->context_ = nullptr;
      redisAsyncFree(context);
    }
  }

  static void OnConnect(const redisAsyncContext* context, int status) {
    // On failure hiredis frees the context after this returns (and fails
    // its queued commands).
    if (status != REDIS_OK) static_cast<Loop*>(context->data)->Forget(context);
  }

  static void OnDisconnect(const redisAsyncContext* context, int) {
    static_cast<Loop*>(context->data)->Forget(context);
  }

  void Forget(const redisAsyncContext* context) {
    if (context_ == context) context_ = nullptr;
  }

  const AsyncRedisOptions& options_;
  const std::string& endpoint_;
  event_base* base_ = nullptr;
  event* wakeup_ = nullptr;
  redisAsyncContext* context_ = nullptr;  // Loop thread only.
  absl::Mutex mu_;
  std::vector<Item> inbox_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

AsyncRedis::AsyncRedis(AsyncRedisOptions options)
    : options_(std::move(options)), endpoint_(absl::StrCat("redis ", options_.host, ":", options_.port)) {
  // libevent's own locking, so other threads may wake a loop (event_active)
  // and stop it (event_base_loopbreak).
  static const bool threads = [] { return evthread_use_pthreads() == 0; }();
  (void)threads;
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    loops_.push_back(std::make_unique<Loop>(options_, endpoint_));
  }
}

AsyncRedis::~AsyncRedis() = default;

void AsyncRedis::Send(RedisCommand command, absl::Time deadline, Done done) {
  loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]->Post(std::move(command), deadline,
                                                                              std::move(done));
}

}  // namespace catalog::storage

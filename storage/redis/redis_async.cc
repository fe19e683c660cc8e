#include "storage/redis/redis_async.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <netdb.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/redis/reply_arena.h"

namespace catalog::storage {

// One event loop, its thread and its connection. Everything but Post(),
// connects() and the destructor runs on the loop thread.
class AsyncRedis::Loop {
 public:
  // Commands waiting for a reply on one connection, at most.
  static constexpr int kMaxOutstanding = 10000;

  Loop(const AsyncRedisOptions& options, const std::string& endpoint, RedisEndpoint* master)
      : options_(options), endpoint_(endpoint), master_(master) {
    base_ = event_base_new();
    wakeup_ = event_new(base_, -1, EV_PERSIST, &Loop::OnWakeup, this);
    event_add(wakeup_, nullptr);
    thread_ = std::thread([this] { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); });
  }

  ~Loop() {
    // loopexit, not loopbreak: a break sent before the thread enters the
    // loop would be lost (the loop resets it on entry).
    event_base_loopexit(base_, nullptr);
    thread_.join();
    // The thread is gone: this thread owns the loop now.
    stopping_ = true;
    if (context_ != nullptr) {
      redisAsyncContext* context = context_;
      context_ = nullptr;
      redisAsyncFree(context);  // Pending commands get UNAVAILABLE.
    }
    std::vector<Item> left;
    {
      absl::MutexLock lock(&mu_);
      left.swap(inbox_);
    }
    left.insert(left.end(), std::make_move_iterator(retries_.begin()), std::make_move_iterator(retries_.end()));
    for (Item& item : left) item.done(absl::UnavailableError(absl::StrCat(endpoint_, ": client shutting down")));
    event_free(wakeup_);
    event_base_free(base_);
  }

  void Post(RedisCommand command, std::string resp, absl::Time deadline, Done done, bool at_most_once) {
    {
      absl::MutexLock lock(&mu_);
      // An at-most-once command counts as retried already: never resent.
      inbox_.push_back(Item{std::move(command), std::move(resp), deadline, std::move(done), at_most_once});
    }
    event_active(wakeup_, EV_READ, 0);
  }

  int64_t connects() const { return connects_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    RedisCommand command;  // Either this...
    std::string resp;      // ...or the command already in RESP.
    absl::Time deadline;
    Done done;
    bool retried;
  };
  // One command sent: owned by hiredis (as its callback's privdata) until
  // its reply callback runs, which hiredis guarantees exactly once (with a
  // null reply when the connection goes away).
  struct Pending {
    Loop* loop;
    Item item;  // Kept for one retry after a lost connection.
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
    std::vector<Item> retries;
    retries.swap(retries_);
    for (Item& item : retries) Start(std::move(item));
    for (Item& item : items) Start(std::move(item));
  }

  void Start(Item item) {
    const absl::Time now = absl::Now();
    if (now >= item.deadline) {
      item.done(absl::DeadlineExceededError(absl::StrCat(endpoint_, ": deadline exceeded before sending")));
      return;
    }
    if (context_ != nullptr && context_epoch_ != master_->epoch()) {
      // The master moved: nothing more is written to the old one. Commands
      // waiting on it are retried (reads: safe twice) on the new one.
      Drop("the master moved");
    }
    if (context_ == nullptr && !Connect(item)) return;
    if (outstanding_ >= kMaxOutstanding) {
      item.done(absl::UnavailableError(
          absl::StrCat(endpoint_, ": ", outstanding_, " commands already wait for replies on this connection")));
      return;
    }
    const absl::Time bound = std::min(item.deadline, now + options_.command_timeout);
    auto* pending = new Pending{this, std::move(item)};
    pending->callers_deadline = bound == pending->item.deadline;
    pending->timer = evtimer_new(base_, &Loop::OnTimer, pending);
    const timeval wait = absl::ToTimeval(std::max(bound - now, absl::Microseconds(1)));
    evtimer_add(pending->timer, &wait);
    if (outstanding_ == 0) last_progress_ = now;  // Nothing was waiting: the clock starts now.
    if (Write(pending) != REDIS_OK) {
      // Not queued: hiredis will never call back for it.
      Finish(pending, absl::UnavailableError(absl::StrCat(endpoint_, ": cannot send: ", context_->errstr)));
      delete pending;
      return;
    }
    ++outstanding_;
  }

  // Queues the command in hiredis's output buffer, as given in RESP or
  // formatted from its arguments.
  int Write(Pending* pending) {
    const Item& item = pending->item;
    if (!item.resp.empty()) {
      return redisAsyncFormattedCommand(context_, &Loop::OnReply, pending, item.resp.data(), item.resp.size());
    }
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(item.command.size());
    lengths.reserve(item.command.size());
    for (const std::string& arg : item.command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return redisAsyncCommandArgv(context_, &Loop::OnReply, pending, static_cast<int>(argv.size()), argv.data(),
                                 lengths.data());
  }

  // Opens the connection (replies and errors come through the callbacks).
  // The address was resolved once, off this thread: no DNS on the loop.
  bool Connect(Item& item) {
    const RedisAddress address = master_->Current();
    if (address.host.empty()) {
      item.done(absl::UnavailableError(absl::StrCat(endpoint_, ": no master known yet")));
      return false;
    }
    connects_.fetch_add(1, std::memory_order_relaxed);
    absl::StatusOr<AsyncRedisLink> link =
        DialRedisAsync(address.host, address.port, options_.connect_timeout, options_.credentials.tls.get());
    if (!link.ok()) {
      item.done(absl::Status(link.status().code(), absl::StrCat(endpoint_, ": ", link.status().message())));
      master_->Suspect(address.epoch);
      return false;
    }
    redisAsyncContext* context = link->context;
    tls_ = std::move(link->tls);
    context->data = this;
    // Replies of a 1000-key MGET reach ~600 KB: keep the reader's buffer.
    context->c.reader->maxbuf = 1 << 20;
    context->c.reader->fn = ArenaReplyFunctions();  // A few blocks per reply, not two objects per value.
    redisLibeventAttach(context, base_);
    redisAsyncSetConnectCallback(context, &Loop::OnConnect);
    redisAsyncSetDisconnectCallback(context, &Loop::OnDisconnect);
    context_ = context;
    context_epoch_ = address.epoch;
    drop_reason_.clear();
    outstanding_ = 0;
    last_progress_ = absl::Now();
    const RedisCredentials& auth = options_.credentials;
    if (!auth.password.empty()) {
      // First on the connection: Redis answers in order, so no command
      // queued behind it runs unauthenticated; a refusal drops them all.
      if (auth.user.empty()) {
        redisAsyncCommand(context, &Loop::OnAuth, this, "AUTH %b", auth.password.data(), auth.password.size());
      } else {
        redisAsyncCommand(context, &Loop::OnAuth, this, "AUTH %b %b", auth.user.data(), auth.user.size(),
                          auth.password.data(), auth.password.size());
      }
    }
    if (master_->verify_role()) {
      // Before any command, so its reply comes before any command's.
      redisAsyncCommand(context, &Loop::OnRole, this, "ROLE");
    }
    return true;
  }

  // Closes the connection; hiredis calls back every command on it with no
  // reply (retried once, see OnReply), after the current callback if inside
  // one.
  void Drop(std::string reason) {
    redisAsyncContext* context = context_;
    context_ = nullptr;
    drop_reason_ = std::move(reason);
    redisAsyncFree(context);
  }

  static void OnAuth(redisAsyncContext* context, void* reply, void* privdata) {
    auto* loop = static_cast<Loop*>(privdata);
    const auto* r = static_cast<const redisReply*>(reply);
    if (r == nullptr || loop->context_ != context || r->type != REDIS_REPLY_ERROR) return;
    loop->Drop(absl::StrCat("AUTH refused: ", absl::string_view(r->str, r->len)));
  }

  static void OnRole(redisAsyncContext* context, void* reply, void* privdata) {
    auto* loop = static_cast<Loop*>(privdata);
    if (reply == nullptr || loop->context_ != context) return;  // Gone already.
    if (!loop->master_->AcceptRole(static_cast<redisReply*>(reply))) {
      loop->master_->Suspect(loop->context_epoch_);
      loop->Drop(loop->master_->RoleRefusal());
    }
  }

  // Runs the caller's `done` once and releases what it holds at once.
  void Finish(Pending* pending, absl::StatusOr<const redisReply*> reply) {
    pending->finished = true;
    if (pending->timer != nullptr) {
      event_free(pending->timer);
      pending->timer = nullptr;
    }
    Done done = std::move(pending->item.done);
    pending->item.command.clear();
    pending->item.resp.clear();
    done(reply);
  }

  static void OnReply(redisAsyncContext* context, void* reply, void* privdata) {
    auto* pending = static_cast<Pending*>(privdata);
    Loop* loop = pending->loop;
    if (loop->context_ == context) {
      --loop->outstanding_;
      loop->last_progress_ = absl::Now();
    }
    if (!pending->finished) {
      if (reply != nullptr) {
        loop->Finish(pending, static_cast<const redisReply*>(reply));
      } else if (!pending->item.retried && !loop->stopping_ && absl::Now() < pending->item.deadline) {
        // The connection went away (Redis restarted, an idle timeout, a
        // proxy): one more try on a fresh connection, once this one is
        // gone (Drain runs after hiredis has freed it). Not for commands
        // sent at most once (they start as retried).
        event_free(pending->timer);
        pending->timer = nullptr;
        pending->finished = true;
        pending->item.retried = true;
        loop->retries_.push_back(std::move(pending->item));
        event_active(loop->wakeup_, EV_READ, 0);
      } else {
        loop->Finish(pending,
                     absl::UnavailableError(absl::StrCat(
                         loop->endpoint_, ": ",
                         WithTlsFailure(context->errstr != nullptr && context->err != 0
                                               ? std::string(context->errstr)
                                           : !loop->drop_reason_.empty() ? loop->drop_reason_
                                                                         : std::string("connection closed"),
                                        loop->tls_.get()))));
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
    // Watchdog: Redis has answered nothing on this connection for
    // command_timeout while commands wait (hung, paused, a dead peer that
    // sent no reset). Drop the connection, whatever the callers' deadlines,
    // so calls stop queueing behind it; the next command reconnects.
    // (A command that itself waited command_timeout is such a case: Redis
    // answers in order.)
    if (loop->context_ != nullptr && (!callers || (loop->outstanding_ > 0 && absl::Now() - loop->last_progress_ >=
                                                                                 loop->options_.command_timeout))) {
      loop->Drop("no reply within command_timeout");
    }
  }

  static void OnConnect(const redisAsyncContext* context, int status) {
    // On failure hiredis frees the context after this returns (and fails
    // its queued commands).
    if (status != REDIS_OK) static_cast<Loop*>(context->data)->Forget(context, /*failed=*/true);
  }

  static void OnDisconnect(const redisAsyncContext* context, int status) {
    static_cast<Loop*>(context->data)->Forget(context, /*failed=*/status != REDIS_OK);
  }

  void Forget(const redisAsyncContext* context, bool failed) {
    if (context_ != context) return;
    context_ = nullptr;
    if (failed) master_->Suspect(context_epoch_);
  }

  const AsyncRedisOptions& options_;
  const std::string& endpoint_;
  RedisEndpoint* const master_;
  event_base* base_ = nullptr;
  event* wakeup_ = nullptr;
  // Loop thread only:
  redisAsyncContext* context_ = nullptr;
  uint64_t context_epoch_ = 0;  // The endpoint epoch context_ was opened for.
  std::string drop_reason_;     // Why the last connection was closed by us.
  std::shared_ptr<const TlsTunnelState> tls_;  // context_'s tunnel; null: plain TCP.
  int outstanding_ = 0;        // Commands sent on context_ and not answered.
  absl::Time last_progress_;   // Last reply on context_ (or its start).
  std::vector<Item> retries_;  // Commands whose connection went away.
  bool stopping_ = false;
  std::atomic<int64_t> connects_{0};
  absl::Mutex mu_;
  std::vector<Item> inbox_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

AsyncRedis::AsyncRedis(AsyncRedisOptions options)
    : options_(std::move(options)),
      owned_endpoint_(options_.endpoint == nullptr ? std::make_unique<StaticEndpoint>(options_.host, options_.port)
                                                   : nullptr),
      master_(options_.endpoint != nullptr ? options_.endpoint : owned_endpoint_.get()),
      endpoint_(master_->name()) {
  // libevent's own locking, so other threads may wake a loop (event_active)
  // and stop it (event_base_loopexit). Without it that would be a data race.
  static const bool threads = [] { return evthread_use_pthreads() == 0; }();
  if (!threads) std::abort();
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    loops_.push_back(std::make_unique<Loop>(options_, endpoint_, master_));
  }
}

int64_t AsyncRedis::connects() const {
  int64_t total = 0;
  for (const auto& loop : loops_) total += loop->connects();
  return total;
}

AsyncRedis::~AsyncRedis() = default;

void AsyncRedis::Send(RedisCommand command, absl::Time deadline, Done done, bool at_most_once) {
  loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]->Post(std::move(command), std::string(),
                                                                              deadline, std::move(done), at_most_once);
}

void AsyncRedis::SendFormatted(std::string resp, absl::Time deadline, Done done) {
  loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]->Post(RedisCommand(), std::move(resp), deadline,
                                                                              std::move(done), false);
}

RespCommand::RespCommand(size_t arguments, size_t bytes_hint) {
  text_.reserve(bytes_hint + 16 * arguments + 16);
  absl::StrAppend(&text_, "*", arguments, "\r\n");
}

void RespCommand::Add(absl::string_view argument) { AddPrefixed("", argument); }

void RespCommand::AddPrefixed(absl::string_view prefix, absl::string_view argument) {
  absl::StrAppend(&text_, "$", prefix.size() + argument.size(), "\r\n", prefix, argument, "\r\n");
}

}  // namespace catalog::storage

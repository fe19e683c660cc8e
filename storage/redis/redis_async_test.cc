// AsyncRedis against a real redis-server: replies, pipelining from many
// threads, deadlines while Redis is paused, and reconnecting after a
// restart.
#include "storage/redis/redis_async.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

struct Result {
  absl::Notification done;
  absl::Status status;
  std::string text;
};

// A redis-server and an AsyncRedis client of it.
struct AsyncStack {
  catalog::testing::RedisServer server;
  AsyncRedis redis;
  explicit AsyncStack(absl::Duration command_timeout = absl::Seconds(1), int connections = 2)
      : redis([&] {
          AsyncRedisOptions options;
          options.port = server.port();
          options.command_timeout = command_timeout;
          options.connections = connections;
          return options;
        }()) {}
};

void Send(AsyncRedis& redis, RedisCommand command, absl::Duration timeout, Result* result) {
  redis.Send(std::move(command), absl::Now() + timeout, [result](absl::StatusOr<const redisReply*> reply) {
    result->status = reply.status();
    if (reply.ok()) result->text = (*reply)->str != nullptr ? std::string((*reply)->str, (*reply)->len) : "";
    result->done.Notify();
  });
}

TEST_CASE("async redis: replies, and thousands of calls pipelined from several threads") {
  // Declared before the client: callbacks still pending at its destruction
  // (a failed run) must not touch freed counters.
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  AsyncStack stack;
  auto& [server, redis] = stack;
  Result ping;
  Send(redis, {"PING"}, absl::Seconds(5), &ping);
  REQUIRE(ping.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  INFO(ping.status.ToString());
  CHECK(ping.status.ok());
  CHECK(ping.text == "PONG");

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        redis.Send({"SET", absl::StrCat("k", t, "_", i), "v"}, absl::Now() + absl::Seconds(10),
                   [&](absl::StatusOr<const redisReply*> reply) {
                     if (reply.ok() && (*reply)->type == REDIS_REPLY_STATUS) ++ok;
                     ++finished;
                   });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < 1000 && finished < 2000; ++i) absl::SleepFor(absl::Milliseconds(10));
  CHECK(finished == 2000);
  CHECK(ok == 2000);
  CHECK(server.Command({"DBSIZE"})->integer == 2000);
}

TEST_CASE("async redis: a paused Redis ends calls at their deadline, or after command_timeout as UNAVAILABLE") {
  AsyncStack stack(absl::Milliseconds(600), /*connections=*/1);
  auto& [server, redis] = stack;
  Result warm;
  Send(redis, {"PING"}, absl::Seconds(5), &warm);
  REQUIRE(warm.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  server.Command({"CLIENT", "PAUSE", "1500"});
  Result short_deadline, long_deadline;
  Send(redis, {"GET", "x"}, absl::Milliseconds(200), &short_deadline);
  Send(redis, {"GET", "x"}, absl::Seconds(5), &long_deadline);
  REQUIRE(short_deadline.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  REQUIRE(long_deadline.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  CHECK(absl::IsDeadlineExceeded(short_deadline.status));
  INFO(long_deadline.status.ToString());
  CHECK(absl::IsUnavailable(long_deadline.status));
  CHECK(absl::StrContains(long_deadline.status.message(), "no reply within"));
  absl::SleepFor(absl::Seconds(1));  // The pause is over.
  Result after;
  Send(redis, {"PING"}, absl::Seconds(5), &after);
  REQUIRE(after.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  CHECK(after.status.ok());
  CHECK(redis.connects() == 2);  // The hung connection was dropped; this one is new.
}

// (Redis 7.0 holds even CLIENT UNPAUSE from a new connection during a
// pause, so pauses here simply run out.)
TEST_CASE("async redis: calls sent while Redis is paused, on a connection opened then, complete when it resumes") {
  AsyncStack stack(absl::Seconds(20));
  auto& [server, redis] = stack;
  server.Command({"CLIENT", "PAUSE", "1000"});
  Result first, second;
  Send(redis, {"PING"}, absl::Seconds(10), &first);
  Send(redis, {"PING"}, absl::Seconds(10), &second);
  absl::SleepFor(absl::Milliseconds(300));
  CHECK_FALSE(first.done.HasBeenNotified());  // Held by Redis, not failed.
  REQUIRE(first.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  REQUIRE(second.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  INFO(first.status.ToString() << " / " << second.status.ToString());
  CHECK(first.status.ok());
  CHECK(second.status.ok());
}

TEST_CASE("async redis: Redis down is UNAVAILABLE at once, after a restart the next call reconnects") {
  AsyncStack stack(absl::Seconds(1), /*connections=*/1);
  auto& [server, redis] = stack;
  Result before;
  Send(redis, {"PING"}, absl::Seconds(5), &before);
  REQUIRE(before.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  REQUIRE(before.status.ok());
  server.Stop();
  Result down;
  Send(redis, {"PING"}, absl::Seconds(5), &down);
  REQUIRE(down.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  INFO(down.status.ToString());
  CHECK(absl::IsUnavailable(down.status));
  CHECK_FALSE(absl::StrContains(down.status.message(), "no reply within"));  // Refused, not timed out.
  server.Start();
  Result up;
  Send(redis, {"PING"}, absl::Seconds(5), &up);
  REQUIRE(up.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  INFO(up.status.ToString());
  CHECK(up.status.ok());
}

TEST_CASE("async redis: callers with short deadlines on a hung Redis: the watchdog drops the connection") {
  AsyncStack stack(absl::Milliseconds(400), /*connections=*/1);
  auto& [server, redis] = stack;
  Result warm;
  Send(redis, {"PING"}, absl::Seconds(5), &warm);
  REQUIRE(warm.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  REQUIRE(redis.connects() == 1);
  server.Command({"CLIENT", "PAUSE", "2000"});
  // Deadlines far below command_timeout: only the watchdog can notice that
  // nothing comes back at all.
  std::vector<std::unique_ptr<Result>> calls;
  for (int i = 0; i < 10; ++i) {
    calls.push_back(std::make_unique<Result>());
    Send(redis, {"GET", "x"}, absl::Milliseconds(150), calls.back().get());
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (auto& call : calls) {
    REQUIRE(call->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    CHECK(absl::IsDeadlineExceeded(call->status));
  }
  CHECK(redis.connects() >= 2);  // Dropped at least once, reconnected for later calls.
}

TEST_CASE("async redis: a command whose connection is killed is sent once more on a fresh one") {
  AsyncStack stack(absl::Seconds(5), /*connections=*/1);
  auto& [server, redis] = stack;
  Result blocked;
  Send(redis, {"BLPOP", "nothing", "1"}, absl::Seconds(10), &blocked);  // Waits in Redis for 1 s.
  long long id = -1;
  for (int i = 0; i < 200 && id < 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    auto list = server.Command({"CLIENT", "LIST"});
    const std::string text(list->str, list->len);
    const size_t at = text.find("cmd=blpop");
    if (at == std::string::npos) continue;
    const size_t line = text.rfind("id=", at);
    id = std::stoll(text.substr(line + 3));
  }
  REQUIRE(id >= 0);
  server.Command({"CLIENT", "KILL", "ID", std::to_string(id)});
  REQUIRE(blocked.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  INFO(blocked.status.ToString());
  CHECK(blocked.status.ok());  // The retry's BLPOP timed out in Redis: a nil reply.
  CHECK(redis.connects() == 2);
}

}  // namespace
}  // namespace catalog::storage

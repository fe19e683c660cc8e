#include "storage/connection_pool.h"

#include <catch2/catch.hpp>
#include <thread>

namespace catalog::storage {
namespace {

struct Conn {
  int serial;
};

struct PoolFixture {
  Metrics metrics;
  int connects = 0;
  absl::Status connect_error;
  ConnectionPool<Conn> pool{PoolOptions{"test pool", 2, absl::Milliseconds(50)},
                            [this](absl::Time) -> absl::StatusOr<std::unique_ptr<Conn>> {
                              if (!connect_error.ok()) return connect_error;
                              return std::make_unique<Conn>(Conn{++connects});
                            },
                            &metrics};
  absl::Time Later() { return absl::Now() + absl::Seconds(5); }
};

TEST_CASE("leases are reused and bounded by the pool size") {
  PoolFixture f;
  {
    auto a = f.pool.Acquire(f.Later());
    auto b = f.pool.Acquire(f.Later());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    auto c = f.pool.Acquire(f.Later());
    CHECK(absl::IsUnavailable(c.status()));
    CHECK(c.status().message().find("test pool: no free connection") != absl::string_view::npos);
    CHECK(f.metrics.Get(Counter::pool_wait_timeouts_total) == 1);
  }
  auto again = f.pool.Acquire(f.Later());
  REQUIRE(again.ok());
  CHECK(again->reused());
  CHECK(f.connects == 2);
}

TEST_CASE("pool gauges follow open and leased connections, and a failed wait is timed") {
  PoolFixture f;
  GaugeSeries* open = f.metrics.Series(GaugeFamily::pool_connections, {"test pool", "open"});
  GaugeSeries* in_use = f.metrics.Series(GaugeFamily::pool_connections, {"test pool", "in_use"});
  HistogramSeries* wait = f.metrics.Series(HistogramFamily::pool_wait_seconds, {"test pool"});
  CHECK(f.metrics.Series(GaugeFamily::pool_max_connections, {"test pool"})->Get() == 2);
  {
    auto a = f.pool.Acquire(f.Later());
    auto b = f.pool.Acquire(f.Later());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(open->Get() == 2);
    CHECK(in_use->Get() == 2);
    CHECK_FALSE(f.pool.Acquire(f.Later()).ok());  // waits wait_timeout (50 ms), then fails
    CHECK(wait->Count() == 3);
    CHECK(wait->SumNanos() >= absl::ToInt64Nanoseconds(absl::Milliseconds(50)));
    b->MarkBroken();
  }
  // b, released first, broke: it is closed and its generation retired, so
  // a, released after it, is closed too.
  CHECK(in_use->Get() == 0);
  CHECK(open->Get() == 0);
  {
    auto c = f.pool.Acquire(f.Later());
    REQUIRE(c.ok());
    CHECK(open->Get() == 1);
    CHECK(in_use->Get() == 1);
  }
  // Reused from idle: leased again, nothing newly open.
  {
    auto d = f.pool.Acquire(f.Later());
    REQUIRE(d.ok());
    CHECK(d->reused());
    CHECK(open->Get() == 1);
    CHECK(in_use->Get() == 1);
  }
  CHECK(in_use->Get() == 0);
  // A connect that fails leaves no slot counted.
  {
    auto e = f.pool.Acquire(f.Later());
    auto g = f.pool.Acquire(f.Later());
    REQUIRE(g.ok());
    REQUIRE(e.ok());
    f.connect_error = absl::UnavailableError("refused");
    CHECK(open->Get() == 2);
    g->MarkBroken();
  }
  CHECK(open->Get() == 0);
  CHECK_FALSE(f.pool.Acquire(f.Later()).ok());
  CHECK(open->Get() == 0);
  CHECK(in_use->Get() == 0);
}

TEST_CASE("a pool's gauges leave the shared series as they were when it is destroyed") {
  Metrics metrics;
  auto factory = [](absl::Time) -> absl::StatusOr<std::unique_ptr<Conn>> { return std::make_unique<Conn>(Conn{1}); };
  ConnectionPool<Conn> first(PoolOptions{"shared", 3}, factory, &metrics);
  GaugeSeries* open = metrics.Series(GaugeFamily::pool_connections, {"shared", "open"});
  GaugeSeries* max = metrics.Series(GaugeFamily::pool_max_connections, {"shared"});
  REQUIRE(first.Acquire(absl::Now() + absl::Seconds(5)).ok());  // one idle now
  {
    ConnectionPool<Conn> second(PoolOptions{"shared", 2}, factory, &metrics);
    REQUIRE(second.Acquire(absl::Now() + absl::Seconds(5)).ok());
    CHECK(max->Get() == 5);
    CHECK(open->Get() == 2);
  }
  CHECK(max->Get() == 3);
  CHECK(open->Get() == 1);
}

TEST_CASE("a waiter gets the connection released by another thread") {
  PoolFixture f;
  auto a = f.pool.Acquire(f.Later());
  auto b = f.pool.Acquire(f.Later());
  REQUIRE(a.ok());
  std::thread releaser([lease = std::move(*a)]() mutable {
    absl::SleepFor(absl::Milliseconds(10));
    auto dropped = std::move(lease);
  });
  auto c = f.pool.Acquire(f.Later());
  releaser.join();
  CHECK(c.ok());
}

TEST_CASE("a broken connection retires idle ones made before it") {
  PoolFixture f;
  {
    auto a = f.pool.Acquire(f.Later());
    auto b = f.pool.Acquire(f.Later());
    REQUIRE(a.ok());
    REQUIRE(b.ok());
  }  // Both idle now.
  {
    auto a = f.pool.Acquire(f.Later());
    REQUIRE(a.ok());
    a->MarkBroken();
  }
  auto fresh = f.pool.Acquire(f.Later());
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->reused());
  CHECK((*fresh)->serial == 3);
}

TEST_CASE("connect failures free the slot and pass the error through") {
  PoolFixture f;
  f.connect_error = absl::UnavailableError("refused");
  CHECK(absl::IsUnavailable(f.pool.Acquire(f.Later()).status()));
  CHECK(absl::IsUnavailable(f.pool.Acquire(f.Later()).status()));
  CHECK(absl::IsUnavailable(f.pool.Acquire(f.Later()).status()));
  f.connect_error = absl::OkStatus();
  CHECK(f.pool.Acquire(f.Later()).ok());
}

TEST_CASE("an expired deadline fails without waiting") {
  PoolFixture f;
  CHECK(absl::IsDeadlineExceeded(f.pool.Acquire(absl::Now() - absl::Seconds(1)).status()));
}

}  // namespace
}  // namespace catalog::storage

#include "storage/metrics.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace catalog::storage {
namespace {

TEST_CASE("metrics render as Prometheus text with HELP, TYPE and cumulative buckets") {
  Metrics m;
  m.Add(Counter::promotions_total, 3);
  m.Observe(Histogram::rpc_duration_seconds, absl::Microseconds(300));
  m.Observe(Histogram::rpc_duration_seconds, absl::Milliseconds(3));
  const std::string text = m.RenderPrometheusText();
  CHECK(text.find("# HELP catalog_promotions_total ") != std::string::npos);
  CHECK(text.find("# TYPE catalog_promotions_total counter\ncatalog_promotions_total 3\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{le=\"0.0005\"} 1\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{le=\"0.005\"} 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_sum 0.003300000\n") != std::string::npos);
}

}  // namespace
TEST_CASE("counts from many threads (kept per shard) add up exactly, and render as one counter and histogram") {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        metrics.Add(Counter::rpc_requests_total);
        metrics.Observe(Histogram::rpc_duration_seconds, absl::Milliseconds(1));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(metrics.Get(Counter::rpc_requests_total) == 20000);
  const std::string text = metrics.RenderPrometheusText();
  CHECK(text.find("\ncatalog_rpc_requests_total 20000\n") != std::string::npos);
  CHECK(text.find("\ncatalog_rpc_duration_seconds_count 20000\n") != std::string::npos);
  CHECK(text.find("\ncatalog_rpc_duration_seconds_sum 20.000000000\n") != std::string::npos);
}

TEST_CASE("with counting off, counters and histograms stay at zero and gauges still work") {
  Metrics metrics;
  metrics.SetCounting(false);
  metrics.Add(Counter::rpc_requests_total, 5);
  metrics.Observe(Histogram::rpc_duration_seconds, absl::Milliseconds(1));
  CHECK(metrics.Get(Counter::rpc_requests_total) == 0);
  CHECK(metrics.IncrementBelow(Gauge::rpc_in_flight, 1));
  CHECK_FALSE(metrics.IncrementBelow(Gauge::rpc_in_flight, 1));
  CHECK(metrics.RenderPrometheusText().find("\ncatalog_rpc_duration_seconds_count 0\n") != std::string::npos);
}

}  // namespace catalog::storage

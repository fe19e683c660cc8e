#include "storage/metrics.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace catalog::storage {
namespace {

TEST_CASE("metrics render as Prometheus text with HELP, TYPE, labels and cumulative buckets") {
  Metrics m;
  m.Add(Counter::promotions_total, 3);
  HistogramSeries* ok = m.Series(HistogramFamily::rpc_duration_seconds, {"catalog.v2.CatalogService", "Get", "OK"});
  ok->Observe(absl::Microseconds(300));
  ok->Observe(absl::Milliseconds(3));
  m.Series(CounterFamily::redis_command_errors_total, {"redis \"a\"\\b", "MGET"})->Add(2);
  const std::string text = m.RenderPrometheusText();
  CHECK(text.find("# HELP catalog_promotions_total ") != std::string::npos);
  CHECK(text.find("# TYPE catalog_promotions_total counter\ncatalog_promotions_total 3\n") != std::string::npos);
  const std::string labels = "service=\"catalog.v2.CatalogService\",method=\"Get\",code=\"OK\"";
  CHECK(text.find("# TYPE catalog_rpc_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{" + labels + ",le=\"0.0005\"} 1\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{" + labels + ",le=\"0.005\"} 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_count{" + labels + "} 2\n") != std::string::npos);
  CHECK(text.find("catalog_rpc_duration_seconds_sum{" + labels + "} 0.003300000\n") != std::string::npos);
  // Label values are escaped as the exposition format asks.
  CHECK(text.find("catalog_redis_command_errors_total{pool=\"redis \\\"a\\\"\\\\b\",operation=\"MGET\"} 2\n") !=
        std::string::npos);
  // The process's own figures.
  for (const char* name : {"\nprocess_resident_memory_bytes ", "\nprocess_open_fds ", "\nprocess_threads ",
                           "\nprocess_start_time_seconds ", "\ncatalog_uptime_seconds "}) {
    CHECK(text.find(name) != std::string::npos);
  }
}

TEST_CASE("a labelled series is registered once: the same labels give the same series") {
  Metrics m;
  CounterSeries* a = m.Series(CounterFamily::mysql_statement_errors_total, {"p", "SELECT"});
  CHECK(a == m.Series(CounterFamily::mysql_statement_errors_total, {"p", "SELECT"}));
  CHECK(a != m.Series(CounterFamily::mysql_statement_errors_total, {"p", "UPDATE"}));
  // Only registered series are rendered.
  const std::string text = m.RenderPrometheusText();
  CHECK(text.find("operation=\"SELECT\"} 0\n") != std::string::npos);
  CHECK(text.find("operation=\"DELETE\"") == std::string::npos);
}

TEST_CASE("a series row's first use from many threads at once gives one series that counts every observation") {
  Metrics m;
  SeriesRow<HistogramSeries, HistogramFamily, 4> row(&m, HistogramFamily::pool_wait_seconds, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) row.At(static_cast<size_t>(i % 2), i % 2 == 0 ? "even" : "odd")->Observe(absl::Microseconds(1));
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(m.Series(HistogramFamily::pool_wait_seconds, {"even"})->Count() == 4000);
  CHECK(m.Series(HistogramFamily::pool_wait_seconds, {"odd"})->Count() == 4000);
  const std::string text = m.RenderPrometheusText();
  CHECK(text.find("catalog_pool_wait_seconds_count{pool=\"even\"} 4000\n") != std::string::npos);
}

TEST_CASE("operation metrics name known operations in any case, and the rest other") {
  Metrics m;
  const std::vector<absl::string_view> known = {"MGET", "SET"};
  OperationMetrics ops(&m, HistogramFamily::redis_command_duration_seconds, CounterFamily::redis_command_errors_total,
                       "pool1", &known);
  ops.Record("mget", absl::Milliseconds(1), false);
  ops.Record("MGET", absl::Milliseconds(1), true);
  ops.Record("FLUSHALL", absl::Milliseconds(1), true);
  CHECK(m.Series(HistogramFamily::redis_command_duration_seconds, {"pool1", "MGET"})->Count() == 2);
  CHECK(m.Series(CounterFamily::redis_command_errors_total, {"pool1", "MGET"})->Get() == 1);
  CHECK(m.Series(HistogramFamily::redis_command_duration_seconds, {"pool1", "other"})->Count() == 1);
  CHECK(m.Series(CounterFamily::redis_command_errors_total, {"pool1", "other"})->Get() == 1);
}

}  // namespace
TEST_CASE("counts from many threads (kept per shard) add up exactly, and render as one counter and histogram") {
  Metrics metrics;
  HistogramSeries* series = metrics.Series(HistogramFamily::pool_wait_seconds, {"p"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        metrics.Add(Counter::rpc_requests_total);
        series->Observe(absl::Milliseconds(1));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(metrics.Get(Counter::rpc_requests_total) == 20000);
  const std::string text = metrics.RenderPrometheusText();
  CHECK(text.find("\ncatalog_rpc_requests_total 20000\n") != std::string::npos);
  CHECK(text.find("\ncatalog_pool_wait_seconds_count{pool=\"p\"} 20000\n") != std::string::npos);
  CHECK(text.find("\ncatalog_pool_wait_seconds_sum{pool=\"p\"} 20.000000000\n") != std::string::npos);
}

TEST_CASE("with counting off, counters and histograms stay at zero and gauges still work") {
  Metrics metrics;
  metrics.SetCounting(false);
  metrics.Add(Counter::rpc_requests_total, 5);
  HistogramSeries* series = metrics.Series(HistogramFamily::pool_wait_seconds, {"p"});
  series->Observe(absl::Milliseconds(1));
  metrics.Series(CounterFamily::redis_command_errors_total, {"p", "GET"})->Add(3);
  CHECK(metrics.Get(Counter::rpc_requests_total) == 0);
  CHECK(metrics.IncrementBelow(Gauge::rpc_in_flight, 1));
  CHECK_FALSE(metrics.IncrementBelow(Gauge::rpc_in_flight, 1));
  CHECK(series->Count() == 0);
  CHECK(metrics.Series(CounterFamily::redis_command_errors_total, {"p", "GET"})->Get() == 0);
  CHECK(metrics.RenderPrometheusText().find("\ncatalog_pool_wait_seconds_count{pool=\"p\"} 0\n") != std::string::npos);
}

}  // namespace catalog::storage

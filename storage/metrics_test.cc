#include "storage/metrics.h"

#include <catch2/catch.hpp>

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
}  // namespace catalog::storage

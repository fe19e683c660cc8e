// MetricsHttpServer: serves GET /metrics (Prometheus text format 0.0.4) over
// HTTP for scraping, with civetweb. Everything else is 404. Up to 15 idle or
// half-sent connections at once cannot stop it answering; each is closed
// after 2 s without a complete request.
//
// Ownership: stops serving when destroyed. Thread-safety: civetweb calls the
// handler from its own threads; Metrics is safe for that.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/readiness.h"
#include "storage/metrics.h"

struct mg_context;
struct mg_connection;

namespace catalog::service {

class MetricsHttpServer {
 public:
  // Listens on `address` ("host:port"). UNAVAILABLE naming the address if it
  // cannot be bound. `metrics` must outlive the server.
  // Also serves GET /ready: 200 "SERVING" or 503 "NOT_SERVING" from
  // `readiness` (which must outlive the server too), for balancers' health
  // checks over plain HTTP.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  const storage::Metrics* metrics,
                                                                  const Readiness* readiness);
  ~MetricsHttpServer();

 private:
  MetricsHttpServer(mg_context* context, const storage::Metrics* metrics, const Readiness* readiness);
  static int HandleMetrics(mg_connection* connection, void* self);
  static int HandleReady(mg_connection* connection, void* self);

  mg_context* context_ = nullptr;
  const storage::Metrics* const metrics_;
  const Readiness* const readiness_;
};

}  // namespace catalog::service

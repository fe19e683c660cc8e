#include "service/metrics_http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace catalog::service {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& address,
                                                                            const storage::Metrics* metrics,
                                                                            const Readiness* readiness) {
  static const bool initialized = [] {
    mg_init_library(0);
    return true;
  }();
  (void)initialized;
  // civetweb spells a loopback listener as "127.0.0.1:9464". It serves one
  // connection per worker thread, and a worker waits for a slow client's
  // request: with few threads and the default 30 s timeout, a handful of
  // idle or half-sent connections would stall every scrape. So: enough
  // workers for several such connections at once, and each one dropped
  // after request_timeout_ms without a complete request.
  const char* options[] = {"listening_ports",
                           address.c_str(),
                           "num_threads",
                           "16",
                           "request_timeout_ms",
                           "2000",
                           "enable_keep_alive",
                           "no",
                           nullptr};
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(nullptr, metrics, readiness));
  mg_callbacks callbacks{};
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("metrics: cannot listen on ", address,
                                               " (port in use? choose another with --metrics_listen_address)"));
  }
  mg_set_request_handler(server->context_, "/metrics$", &MetricsHttpServer::HandleMetrics, server.get());
  mg_set_request_handler(server->context_, "/ready$", &MetricsHttpServer::HandleReady, server.get());
  return server;
}

MetricsHttpServer::MetricsHttpServer(mg_context* context, const storage::Metrics* metrics,
                                     const Readiness* readiness)
    : context_(context), metrics_(metrics), readiness_(readiness) {}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int MetricsHttpServer::HandleMetrics(mg_connection* connection, void* self) {
  const std::string body = static_cast<MetricsHttpServer*>(self)->metrics_->RenderPrometheusText();
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            body.size());
  mg_write(connection, body.data(), body.size());
  return 200;
}

int MetricsHttpServer::HandleReady(mg_connection* connection, void* self) {
  const bool serving = static_cast<MetricsHttpServer*>(self)->readiness_->Serving();
  const char* body = serving ? "SERVING\n" : "NOT_SERVING\n";
  mg_printf(connection,
            "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            serving ? "200 OK" : "503 Service Unavailable", strlen(body), body);
  return serving ? 200 : 503;
}

}  // namespace catalog::service

#include "service/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "service/admin_service.h"
#include "service/catalog_core.h"
#include "service/catalog_v1_service.h"
#include "service/catalog_v2_service.h"
#include "service/metrics_http_server.h"
#include "storage/mysql_tier.h"
#include "storage/redis_tier.h"
#include "storage/request_log.h"
#include "storage/tiered_store.h"

namespace catalog::service {

struct CatalogServer::Parts {
  storage::Metrics metrics;
  std::unique_ptr<Logger> logger;
  storage::RedisOptions redis_options;
  storage::MySqlOptions mysql_options;
  std::unique_ptr<storage::RedisPool> redis_pool;
  std::unique_ptr<storage::RedisTier> redis_tier;
  std::unique_ptr<storage::MySqlTier> mysql_tier;
  std::unique_ptr<storage::TieredStore> store;
  std::unique_ptr<storage::RedisRequestLog> request_log;
  std::unique_ptr<CatalogCore> core;
  std::unique_ptr<CatalogV1Service> v1_service;
  std::unique_ptr<CatalogV2Service> v2_service;
  std::unique_ptr<AdminService> admin_service;
  std::unique_ptr<MetricsHttpServer> metrics_http;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

absl::StatusOr<std::unique_ptr<CatalogServer>> CatalogServer::Start(const Config& config) {
  auto parts = std::make_unique<Parts>();
  absl::StatusOr<LogLevel> log_level = Logger::ParseLevel(config.log_level);
  if (!log_level.ok()) return log_level.status();
  parts->logger = std::make_unique<Logger>(*log_level, stderr);
  const CallObservers observers{&parts->metrics, parts->logger.get()};
  const storage::Clock* clock = storage::Clock::Real();

  storage::RedisOptions& redis = parts->redis_options;
  redis.host = config.redis_host;
  redis.port = static_cast<int>(config.redis_port);
  redis.connect_timeout = absl::Milliseconds(config.redis_connect_timeout_ms);
  redis.command_timeout = absl::Milliseconds(config.redis_command_timeout_ms);
  redis.pool.size = static_cast<int>(config.redis_pool_size);
  redis.pool.wait_timeout = absl::Milliseconds(config.pool_wait_timeout_ms);

  storage::MySqlOptions& mysql = parts->mysql_options;
  mysql.host = config.mysql_host;
  mysql.port = static_cast<int>(config.mysql_port);
  mysql.user = config.mysql_user;
  mysql.password = config.mysql_password;
  mysql.database = config.mysql_database;
  mysql.connect_timeout_seconds = static_cast<int>(config.mysql_connect_timeout_s);
  mysql.io_timeout_seconds = static_cast<int>(config.mysql_io_timeout_s);
  mysql.pool.size = static_cast<int>(config.mysql_pool_size);
  mysql.pool.wait_timeout = absl::Milliseconds(config.pool_wait_timeout_ms);

  const storage::RecordType& type = CatalogCore::ProductRecordType();
  parts->redis_pool = std::make_unique<storage::RedisPool>(redis, &parts->metrics);
  parts->redis_tier = std::make_unique<storage::RedisTier>(parts->redis_pool.get(), type);
  parts->mysql_tier = std::make_unique<storage::MySqlTier>(mysql, type, &parts->metrics);
  if (absl::Status s = parts->mysql_tier->EnsureSchema(absl::Now() + absl::Seconds(10)); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot prepare the cold tier table: ", s.message()));
  }
  storage::TieredStoreOptions store_options;
  store_options.max_operation_time = absl::Milliseconds(config.max_call_ms);
  store_options.max_write_attempts = static_cast<int>(config.write_attempts);
  parts->store = std::make_unique<storage::TieredStore>(type, parts->redis_tier.get(), parts->mysql_tier.get(), clock,
                                                        &parts->metrics, store_options);
  storage::RequestLogOptions log_options;
  log_options.claim_ttl = 2 * absl::Milliseconds(config.max_call_ms) + absl::Seconds(1);
  parts->request_log = std::make_unique<storage::RedisRequestLog>(parts->redis_pool.get(), log_options);
  parts->core = std::make_unique<CatalogCore>(parts->store.get(), parts->request_log.get(), clock, &parts->metrics,
                                              CoreOptions{config.max_batch_size});
  parts->v1_service =
      std::make_unique<CatalogV1Service>(parts->core.get(), observers, absl::Milliseconds(config.max_call_ms));
  parts->v2_service =
      std::make_unique<CatalogV2Service>(parts->core.get(), observers, absl::Milliseconds(config.max_call_ms));
  parts->admin_service = std::make_unique<AdminService>(parts->core.get(), observers);

  if (!config.metrics_listen_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config.metrics_listen_address, &parts->metrics);
    if (!http.ok()) return http.status();
    parts->metrics_http = *std::move(http);
  }

  // Health is served by gRPC's built-in service; linking the generated
  // grpc.health.v1 descriptor lets reflection describe it too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, grpc::InsecureServerCredentials(), &parts->port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS,
                              static_cast<int>(config.grpc_completion_queues));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              static_cast<int>(config.grpc_min_pollers));
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              static_cast<int>(config.grpc_max_pollers));
  builder.RegisterService(parts->v1_service.get());
  builder.RegisterService(parts->v2_service.get());
  builder.RegisterService(parts->admin_service.get());
  parts->server = builder.BuildAndStart();
  if (parts->server == nullptr || parts->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address,
                                               " (port in use? choose another with --listen_address=host:port)"));
  }
  return std::unique_ptr<CatalogServer>(new CatalogServer(std::move(parts)));
}

CatalogServer::CatalogServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

CatalogServer::~CatalogServer() = default;

void CatalogServer::Shutdown(absl::Duration grace) {
  parts_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  parts_->server->Wait();
}

int CatalogServer::port() const { return parts_->port; }

}  // namespace catalog::service

#include "service/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <google/protobuf/descriptor.h>
#include <grpc/support/log.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "catalog/v1/catalog.grpc.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "catalog/v2/catalog.grpc.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "service/admin_service.h"
#include "service/catalog_core.h"
#include "service/catalog_v1_service.h"
#include "service/catalog_v2_service.h"
#include "service/demotion_job.h"
#include "service/maintenance.h"
#include "service/topology.h"
#include "storage/status_macros.h"
#include "service/connect/connect_service.h"
#include "service/connect/http_server.h"
#include "service/metrics_http_server.h"
#include "service/readiness.h"
#include "storage/executor.h"
#include "storage/hot_cache.h"
#include "storage/redis/cluster.h"
#include "storage/redis/cluster_tier.h"
#include "storage/redis/invalidation_listener.h"
#include "storage/mysql/mysql_tier.h"
#include "storage/redis/redis_async.h"
#include "storage/redis/redis_monitor.h"
#include "storage/redis/redis_tier.h"
#include "storage/redis/redis_transport.h"
#include "storage/redis/replica_endpoint.h"
#include "storage/redis/sentinel.h"
#include "storage/record_types.h"
#include "storage/tiering/tiered_store.h"

namespace catalog::service {
namespace {

// This instance in the demotion lock: host and process, unique per machine.
std::string DemotionHolderName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "unknown-host", ":", getpid());
}

}  // namespace

// One Redis deployment of the topology: where its master is, its pool and
// (for the products' deployment) its async read loops; or, for a Redis
// Cluster, the cluster client (its own pool and loop per node).
struct RedisDeploymentParts {
  storage::RedisOptions options;
  std::unique_ptr<storage::RedisCluster> cluster;
  std::unique_ptr<storage::RedisEndpoint> endpoint;
  std::unique_ptr<storage::RedisPool> pool;
  std::unique_ptr<storage::AsyncRedis> async;
  // Reads that opt in to a replica (Sentinel deployments only).
  std::unique_ptr<storage::ReplicaEndpoint> replica_endpoint;
  std::unique_ptr<storage::AsyncRedis> replica;
  // Policy checks every maintenance tick (gauges: the products' monitor).
  std::unique_ptr<storage::RedisMonitor> monitor;
  storage::RedisTierOptions tier;
  storage::ClusterTierOptions cluster_tier;
};

// A record type's primary tier on its deployment, and the same object as
// a view cache.
struct PrimaryParts {
  std::unique_ptr<storage::PrimaryTier> primary;
  storage::ViewTier* views = nullptr;
};

struct CatalogServer::Parts {
  storage::Metrics metrics;
  std::unique_ptr<RpcMetrics> rpc_metrics;
  std::shared_ptr<Logger> logger;
  catalog::config::v1::Topology topology;
  // By name; before everything that connects to them, so destroyed after.
  std::map<std::string, std::unique_ptr<RedisDeploymentParts>> redis;
  std::map<std::string, std::unique_ptr<storage::MySqlOptions>> mysql;
  std::unique_ptr<storage::ThreadPoolExecutor> cold_readers;
  std::unique_ptr<storage::HotCache> hot_cache;
  std::unique_ptr<storage::InvalidationListener> invalidation_listener;
  PrimaryParts redis_tier;
  std::unique_ptr<storage::MySqlTier> mysql_tier;
  std::unique_ptr<storage::TieredStore> store;
  // Offers: their own tiers, where the topology places them.
  PrimaryParts offer_redis_tier;
  std::unique_ptr<storage::MySqlTier> offer_mysql_tier;
  std::unique_ptr<storage::TieredStore> offer_store;
  std::unique_ptr<storage::RedisMonitor> redis_monitor;
  std::unique_ptr<CatalogCore> core;
  std::unique_ptr<CatalogV1Service> v1_service;
  std::unique_ptr<CatalogV2Service> v2_service;
  std::unique_ptr<AdminService> admin_service;
  Readiness readiness;  // Before what reads it: destroyed after them.
  std::unique_ptr<MetricsHttpServer> metrics_http;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> admin_server;  // Null without admin_listen_address.
  // Connect (null without http_listen_address): after the gRPC server whose
  // in-process channel it calls, so destroyed before it.
  std::unique_ptr<ConnectService> connect;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<Maintenance> maintenance;
  std::unique_ptr<DemotionJob> demotion_job;
  // Set at SIGTERM: long operations (demotion) stop between batches.
  std::atomic<bool> stopping{false};
  int port = 0;
  int admin_port = 0;
};

namespace {

storage::SentinelOptions SentinelOptionsOf(const catalog::config::v1::RedisDeployment& deployment,
                                           const storage::RedisOptions& redis) {
  storage::SentinelOptions sentinel;
  for (const std::string& address : deployment.sentinel().sentinels()) {
    sentinel.sentinels.push_back((*storage::ParseHostPorts(address))[0]);  // Checked with the topology.
  }
  sentinel.master_name = deployment.sentinel().master_name();
  sentinel.connect_timeout = redis.connect_timeout;
  sentinel.data_credentials = redis.credentials;
  return sentinel;
}

// The file's content without one trailing newline (as `echo secret >file`
// writes it).
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read \"", path, "\""));
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (absl::EndsWith(secret, "\n")) secret.pop_back();
  if (absl::EndsWith(secret, "\r")) secret.pop_back();
  return secret;
}

// A secret given by an option (flag or CATALOG_<NAME>) or by the file the
// option `file_option` names (config checks they are not both set).
absl::StatusOr<std::string> OptionSecret(const std::string& value, const std::string& file,
                                         absl::string_view file_option) {
  if (file.empty()) return value;
  return ReadSecretFile(file, absl::StrCat("option ", file_option));
}

// A secret a topology block names by password_file or password_env (the
// topology check refuses both); empty if neither. `what` names the block.
absl::StatusOr<std::string> TopologySecret(const std::string& file, const std::string& env, absl::string_view what) {
  if (!file.empty()) return ReadSecretFile(file, absl::StrCat(what, ": password_file"));
  if (env.empty()) return std::string();
  const char* password = std::getenv(env.c_str());
  if (password == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": password_env ", env, " is not set"));
  return std::string(password);
}

// Without a topology file: mysql_password_file, else mysql_password (flag
// or CATALOG_MYSQL_PASSWORD). With one: the database's password_file or
// password_env.
absl::StatusOr<std::string> MySqlPassword(const Config& config, const catalog::config::v1::MySqlDatabase& database) {
  if (config.topology_file.empty()) {
    return OptionSecret(config.mysql_password, config.mysql_password_file, "mysql_password_file");
  }
  return TopologySecret(database.password_file(), database.password_env(),
                        absl::StrCat("topology mysql \"", database.name(), "\""));
}

// Plaintext, or TLS (mTLS with tls_client_ca_file) from the PEM files the
// options name; the same for the public and the admin listener.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(const Config& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadSecretFile(config.tls_cert_file, "option tls_cert_file"));
  ASSIGN_OR_RETURN(pair.private_key, ReadSecretFile(config.tls_key_file, "option tls_key_file"));
  for (const auto& [pem, name] : {std::pair{&pair.cert_chain, "tls_cert_file"}, {&pair.private_key, "tls_key_file"}}) {
    if (!absl::StrContains(*pem, "-----BEGIN ")) {
      return absl::InvalidArgumentError(absl::StrCat("option ", name, ": no PEM block in the file"));
    }
  }
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!config.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadSecretFile(config.tls_client_ca_file, "option tls_client_ca_file"));
    if (!absl::StrContains(options.pem_root_certs, "-----BEGIN CERTIFICATE-----")) {
      return absl::InvalidArgumentError("option tls_client_ca_file: no PEM certificate in the file");
    }
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// Without a topology file: redis_user with redis_password_file or
// redis_password (flag or CATALOG_REDIS_PASSWORD). With one: the
// deployment's user with its password_file or password_env.
absl::StatusOr<storage::RedisCredentials> RedisCredentialsOf(const Config& config,
                                                            const catalog::config::v1::RedisDeployment& deployment) {
  storage::RedisCredentials credentials;
  const std::string what = absl::StrCat("topology redis \"", deployment.name(), "\"");
  if (!deployment.tls_ca_file().empty()) {
    // The options become the default deployment's fields (TopologyFromConfig).
    ASSIGN_OR_RETURN(credentials.tls, storage::RedisTls::Create(storage::RedisTlsOptions{
                                          .ca_file = deployment.tls_ca_file(),
                                          .cert_file = deployment.tls_cert_file(),
                                          .key_file = deployment.tls_key_file(),
                                          .server_name = deployment.tls_server_name(),
                                          .what = config.topology_file.empty() ? "option redis_tls"
                                                                               : absl::StrCat(what, ": tls"),
                                      }));
  }
  if (config.topology_file.empty()) {
    credentials.user = config.redis_user;
    ASSIGN_OR_RETURN(credentials.password,
                     OptionSecret(config.redis_password, config.redis_password_file, "redis_password_file"));
    return credentials;
  }
  credentials.user = deployment.user();
  ASSIGN_OR_RETURN(credentials.password, TopologySecret(deployment.password_file(), deployment.password_env(), what));
  if (credentials.password.empty() && !credentials.user.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": user \"", credentials.user,
                                                   "\" without a password (password_env or password_file)"));
  }
  return credentials;
}

// The topology file, or the one the options describe.
absl::StatusOr<catalog::config::v1::Topology> TopologyOf(const Config& config) {
  if (!config.topology_file.empty()) return LoadTopologyFile(config.topology_file);
  catalog::config::v1::Topology topology = TopologyFromConfig(config);
  RETURN_IF_ERROR(CheckTopology(topology, "from the redis_* and mysql_* options"));
  return topology;
}

// Connection options of every MySQL database of `topology`, by name.
absl::StatusOr<std::map<std::string, std::unique_ptr<storage::MySqlOptions>>> MySqlDatabases(
    const Config& config, const catalog::config::v1::Topology& topology) {
  std::map<std::string, std::unique_ptr<storage::MySqlOptions>> out;
  for (const auto& database : topology.mysql()) {
    auto m = std::make_unique<storage::MySqlOptions>();
    const storage::HostPort address = (*storage::ParseHostPorts(database.address()))[0];  // Checked.
    m->host = address.host;
    m->port = address.port;
    m->user = database.user();
    ASSIGN_OR_RETURN(m->password, MySqlPassword(config, database));
    m->database = database.database();
    m->tls_ca_file = database.tls_ca_file();
    m->tls_cert_file = database.tls_cert_file();
    m->tls_key_file = database.tls_key_file();
    // The client library reads these files at every connect: an unreadable
    // one is named now, not as a failed connection later.
    for (const auto& [path, what] : {std::pair{&m->tls_ca_file, "tls_ca_file"}, {&m->tls_cert_file, "tls_cert_file"},
                                     {&m->tls_key_file, "tls_key_file"}}) {
      if (!path->empty() && !std::ifstream(*path).good()) {
        return absl::InvalidArgumentError(absl::StrCat(
            config.topology_file.empty() ? absl::StrCat("option mysql_", what)
                                         : absl::StrCat("topology mysql \"", database.name(), "\": ", what),
            ": cannot read \"", *path, "\""));
      }
    }
    m->connect_timeout_seconds = static_cast<int>(config.mysql_connect_timeout_s);
    m->io_timeout_seconds = static_cast<int>(config.mysql_io_timeout_s);
    m->pool.size = static_cast<int>(config.mysql_pool_size);
    m->pool.wait_timeout =
        config.pool_wait_timeout_ms == 0 ? absl::InfiniteDuration() : absl::Milliseconds(config.pool_wait_timeout_ms);
    out[database.name()] = std::move(m);
  }
  return out;
}

// The pools and endpoints of every deployment and database the topology
// names; async read loops for the products' deployment only (offers are
// read synchronously).
absl::Status BuildBackends(const Config& config, CatalogServer::Parts* parts) {
  const absl::Duration pool_wait =
      config.pool_wait_timeout_ms == 0 ? absl::InfiniteDuration() : absl::Milliseconds(config.pool_wait_timeout_ms);
  const std::string& products_redis = PlacementOf(parts->topology, "products").redis();
  for (const auto& deployment : parts->topology.redis()) {
    auto d = std::make_unique<RedisDeploymentParts>();
    d->options.connect_timeout = absl::Milliseconds(config.redis_connect_timeout_ms);
    d->options.command_timeout = absl::Milliseconds(config.redis_command_timeout_ms);
    d->options.pool.size = static_cast<int>(config.redis_pool_size);
    d->options.pool.wait_timeout = pool_wait;
    ASSIGN_OR_RETURN(d->options.credentials, RedisCredentialsOf(config, deployment));
    if (deployment.has_cluster()) {
      storage::ClusterOptions cluster;
      for (const std::string& seed : deployment.cluster().seeds()) {
        cluster.seeds.push_back((*storage::ParseHostPorts(seed))[0]);  // Checked with the topology.
      }
      cluster.node = d->options;
      d->cluster = std::make_unique<storage::RedisCluster>(cluster, &parts->metrics);
      d->cluster_tier.view_ttl = absl::Seconds(config.view_cache_ttl_s);
      // Unreachable now is not fatal: the map is read again on first use.
      if (absl::Status s = d->cluster->Refresh(absl::Now() + absl::Seconds(2)); !s.ok()) {
        parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                           absl::StrCat("redis \"", deployment.name(), "\": no cluster seed answered at start-up (",
                                        s.message(), "); asking again on first use"));
      }
      storage::RedisMonitor monitor(d->cluster.get(), &parts->metrics, /*gauges=*/false);
      if (absl::Status s = monitor.CheckOnce(absl::Now() + absl::Seconds(2)); !s.ok()) {
        if (absl::IsFailedPrecondition(s) || absl::IsInternal(s)) return s;
        parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                           absl::StrCat("cannot check Redis's configuration at start-up: ", s.message()));
      }
      parts->redis[deployment.name()] = std::move(d);
      continue;
    }
    if (deployment.has_sentinel()) {
      d->endpoint = std::make_unique<storage::SentinelEndpoint>(SentinelOptionsOf(deployment, d->options),
                                                                &parts->metrics);
      if (d->endpoint->Current().host.empty()) {
        parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                           absl::StrCat(d->endpoint->name(),
                                        ": no sentinel named the master at start-up; asking again every second"));
      }
    } else {
      const storage::HostPort address = (*storage::ParseHostPorts(deployment.standalone().address()))[0];
      d->options.host = address.host;
      d->options.port = address.port;
      d->endpoint = std::make_unique<storage::StaticEndpoint>(address.host, address.port);
    }
    d->pool = std::make_unique<storage::RedisPool>(d->options, &parts->metrics, d->endpoint.get());
    if (config.redis_async_connections > 0 && deployment.name() == products_redis) {
      storage::AsyncRedisOptions async;
      async.endpoint = d->endpoint.get();
      async.connections = static_cast<int>(config.redis_async_connections);
      async.command_timeout = absl::Milliseconds(config.redis_command_timeout_ms);
      async.connect_timeout = d->options.connect_timeout;
      async.credentials = d->options.credentials;
      d->async = std::make_unique<storage::AsyncRedis>(async);
      if (deployment.has_sentinel() && config.redis_replica_connections > 0) {
        d->replica_endpoint = std::make_unique<storage::ReplicaEndpoint>(SentinelOptionsOf(deployment, d->options),
                                                                          d->endpoint.get(), &parts->metrics);
        storage::AsyncRedisOptions replica = async;
        replica.endpoint = d->replica_endpoint.get();
        replica.connections = static_cast<int>(config.redis_replica_connections);
        d->replica = std::make_unique<storage::AsyncRedis>(replica);
      }
    }
    d->tier.write_replicas = deployment.write_replicas();
    d->tier.wait_timeout = absl::Milliseconds(config.redis_wait_timeout_ms);
    d->tier.view_ttl = absl::Seconds(config.view_cache_ttl_s);
    // Each deployment must be configured as a primary store. Unreachable
    // now is not fatal (it may start later; maintenance checks every
    // deployment again each tick). Gauges: the products' deployment only.
    storage::RedisMonitor monitor(d->pool.get(), &parts->metrics, /*gauges=*/deployment.name() == products_redis);
    // Redis answering with an error (a refused AUTH, NOPERM) is not
    // "unreachable": it will not change by itself, so it stops start-up.
    if (absl::Status s = monitor.CheckOnce(absl::Now() + absl::Seconds(2)); !s.ok()) {
      if (absl::IsFailedPrecondition(s) || absl::IsInternal(s)) return s;
      parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                         absl::StrCat("cannot check Redis's configuration at start-up: ", s.message()));
    }
    parts->redis[deployment.name()] = std::move(d);
  }
  ASSIGN_OR_RETURN(parts->mysql, MySqlDatabases(config, parts->topology));
  return absl::OkStatus();
}

// The primary tier of `type` on deployment `d`: standalone or Sentinel
// (RedisTier; with `async_reads`, over the deployment's async loops and
// replica), or a cluster (ClusterTier).
PrimaryParts MakePrimary(RedisDeploymentParts& d, const storage::RecordType& type, storage::Metrics* metrics,
                         bool async_reads) {
  PrimaryParts out;
  if (d.cluster != nullptr) {
    auto tier = std::make_unique<storage::ClusterTier>(d.cluster.get(), type, metrics, d.cluster_tier);
    out.views = tier.get();
    out.primary = std::move(tier);
    return out;
  }
  auto tier = std::make_unique<storage::RedisTier>(d.pool.get(), type, metrics, async_reads ? d.async.get() : nullptr,
                                                   d.tier, async_reads ? d.replica.get() : nullptr);
  out.views = tier.get();
  out.primary = std::move(tier);
  return out;
}

std::unique_ptr<storage::RedisMonitor> MakeMonitor(RedisDeploymentParts& d, storage::Metrics* metrics, bool gauges) {
  if (d.cluster != nullptr) return std::make_unique<storage::RedisMonitor>(d.cluster.get(), metrics, gauges);
  return std::make_unique<storage::RedisMonitor>(d.pool.get(), metrics, gauges);
}

// gRPC's own log lines (gpr_log) go through the server's logger, so stderr
// holds only JSON lines: channel server, field "source":"grpc". One logger
// per process (the newest server's), shared so that a gRPC thread logging
// while a server is destroyed still holds a live one.
ABSL_CONST_INIT absl::Mutex grpc_log_mu(absl::kConstInit);
std::shared_ptr<const Logger>& GrpcLogTarget() {
  static auto* target = new std::shared_ptr<const Logger>();
  return *target;
}

void GrpcLog(gpr_log_func_args* args) {
  std::shared_ptr<const Logger> logger;
  {
    absl::MutexLock lock(&grpc_log_mu);
    logger = GrpcLogTarget();
  }
  if (logger == nullptr) {
    std::fprintf(stderr, "%s:%d %s\n", args->file, args->line, args->message);
    return;
  }
  const LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                         : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                                   : LogLevel::kDebug;
  logger->Log(LogChannel::kServer, level, args->message,
              {{"source", "grpc"}, {"at", absl::StrCat(args->file, ":", args->line)}});
}

// Every method a CallRecord counts: the public services and the admin plane.
std::vector<std::string> InstrumentedMethods() {
  std::vector<std::string> methods;
  for (const char* name : {catalog::v1::CatalogService::service_full_name(),
                           catalog::v2::CatalogService::service_full_name(),
                           catalog::admin::v1::CatalogAdminService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(absl::StrCat(service->full_name(), "/", service->method(i)->name()));
    }
  }
  return methods;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CatalogServer>> CatalogServer::Start(const Config& config) {
  auto parts = std::make_unique<Parts>();
  parts->metrics.SetCounting(config.count_metrics != 0);
  LoggerOptions log_options;
  ASSIGN_OR_RETURN(log_options.level, Logger::ParseLevel(config.log_level));
  log_options.channel_levels = config.log_channel_levels;
  log_options.dir = config.log_dir;
  log_options.max_lines_per_second = static_cast<int>(config.log_max_lines_per_second);
  ASSIGN_OR_RETURN(parts->logger, Logger::Create(log_options, stderr));
  {
    absl::MutexLock lock(&grpc_log_mu);
    GrpcLogTarget() = parts->logger;
  }
  gpr_set_log_function(GrpcLog);
  parts->rpc_metrics = std::make_unique<RpcMetrics>(&parts->metrics, InstrumentedMethods());
  parts->metrics
      .Series(storage::GaugeFamily::build_info,
              {CATALOG_VERSION, CATALOG_REVISION, grpc::Version(),
               absl::StrCat(GOOGLE_PROTOBUF_VERSION / 1000000, ".", GOOGLE_PROTOBUF_VERSION / 1000 % 1000, ".",
                            GOOGLE_PROTOBUF_VERSION % 1000)})
      ->Set(1);
  const CallObservers observers{&parts->metrics, parts->logger.get(), config.max_in_flight_calls,
                                parts->rpc_metrics.get(), config.access_log_every};
  const storage::Clock* clock = storage::Clock::Real();

  ASSIGN_OR_RETURN(parts->topology, TopologyOf(config));
  for (const auto& deployment : parts->topology.redis()) {
    if (deployment.write_replicas() > 0 && config.redis_wait_timeout_ms >= config.redis_command_timeout_ms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "option redis_wait_timeout_ms: ", config.redis_wait_timeout_ms, " must be below redis_command_timeout_ms ",
          config.redis_command_timeout_ms, " (redis \"", deployment.name(), "\" has write_replicas ",
          deployment.write_replicas(), "; WAIT blocks the round trip)"));
    }
  }
  RETURN_IF_ERROR(BuildBackends(config, parts.get()));
  const auto& products = PlacementOf(parts->topology, "products");
  const auto& offers = PlacementOf(parts->topology, "offers");
  RedisDeploymentParts& product_redis = *parts->redis.at(products.redis());
  RedisDeploymentParts& offer_redis = *parts->redis.at(offers.redis());

  const storage::RecordType& type = storage::ProductRecordType();
  parts->cold_readers = std::make_unique<storage::ThreadPoolExecutor>(static_cast<int>(config.cold_read_threads));
  parts->redis_tier = MakePrimary(product_redis, type, &parts->metrics, /*async_reads=*/true);
  parts->redis_monitor = MakeMonitor(product_redis, &parts->metrics, /*gauges=*/true);
  parts->mysql_tier = std::make_unique<storage::MySqlTier>(*parts->mysql.at(products.mysql()), type, &parts->metrics);
  if (absl::Status s = parts->mysql_tier->CheckSchema(absl::Now() + absl::Seconds(10)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("products' cold tier: ", s.message()));
  }
  parts->offer_redis_tier = MakePrimary(offer_redis, storage::OfferRecordType(), &parts->metrics, /*async_reads=*/false);
  parts->offer_mysql_tier = std::make_unique<storage::MySqlTier>(*parts->mysql.at(offers.mysql()),
                                                                 storage::OfferRecordType(), &parts->metrics);
  if (absl::Status s = parts->offer_mysql_tier->CheckSchema(absl::Now() + absl::Seconds(10)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("offers' cold tier: ", s.message()));
  }
  // Products larger than one MySQL statement can carry could never be
  // demoted: say so now rather than at the first demotion.
  if (absl::StatusOr<int64_t> fits = parts->mysql_tier->MaxRecordBytes(absl::Now() + absl::Seconds(10));
      fits.ok() && *fits < config.max_record_bytes) {
    parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                       absl::StrCat("max_record_bytes ", config.max_record_bytes, " exceeds what one MySQL statement ",
                                    "can carry under its max_allowed_packet (", *fits,
                                    " bytes per record): larger products could not be demoted; raise "
                                    "max_allowed_packet to at least ",
                                    2 * config.max_record_bytes + 2048));
  }
  storage::TieredStoreOptions store_options;
  store_options.max_operation_time = absl::Milliseconds(config.max_call_ms);
  store_options.max_write_attempts = static_cast<int>(config.write_attempts);
  store_options.request_ttl = absl::Seconds(config.request_ttl_s);
  if (config.l1_max_bytes > 0 && product_redis.cluster != nullptr) {
    // L1's invalidation stream follows one server; a cluster would need
    // one per master (not built yet). Serving from L1 without it could
    // return a value older than an acknowledged write, so L1 stays off.
    parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                       "l1_max_bytes is ignored: the products' deployment is a Redis Cluster, which L1 does not "
                       "support yet (README, Redis Cluster)");
  } else if (config.l1_max_bytes > 0 && product_redis.options.credentials.tls != nullptr) {
    // L1 serves only while its stream's socket holds no unread byte
    // (storage/SAFETY.md, L3). Over TLS that socket is the tunnel's local
    // end: an invalidation can sit in the TCP socket, in OpenSSL or in the
    // pump while it polls empty, so serving could return a value older than
    // an acknowledged write. L1 stays off until the pump reports what it
    // holds.
    parts->logger->Log(LogChannel::kStorage, LogLevel::kWarning,
                       "l1_max_bytes is ignored: the products' deployment is reached over TLS, which L1 does not "
                       "support yet (README, Redis over TLS)");
  } else if (config.l1_max_bytes > 0) {
    storage::HotCacheOptions hot;
    hot.max_bytes = config.l1_max_bytes;
    hot.lease = absl::Milliseconds(config.l1_lease_ms);
    parts->hot_cache = std::make_unique<storage::HotCache>(hot, storage::Clock::Monotonic(), &parts->metrics);
    storage::InvalidationListenerOptions listener;
    listener.endpoint = product_redis.endpoint.get();
    listener.key_prefix = type.key_prefix;
    listener.connect_timeout = absl::Milliseconds(config.redis_connect_timeout_ms);
    listener.credentials = product_redis.options.credentials;
    // Several pings per lease, so one late pong does not stop L1.
    listener.heartbeat = absl::Milliseconds(config.l1_lease_ms) / 5;
    listener.pong_timeout = absl::Milliseconds(config.l1_lease_ms);
    parts->invalidation_listener =
        std::make_unique<storage::InvalidationListener>(listener, parts->hot_cache.get(), &parts->metrics);
  }
  parts->store =
      std::make_unique<storage::TieredStore>(type, parts->redis_tier.primary.get(), parts->mysql_tier.get(), clock,
                                             &parts->metrics, store_options, parts->cold_readers.get(),
                                             parts->hot_cache.get());
  CoreOptions core_options;
  core_options.max_batch_size = config.max_batch_size;
  core_options.max_record_bytes = config.max_record_bytes;
  core_options.max_response_bytes = config.max_message_bytes;
  core_options.demotion_holder = DemotionHolderName();
  core_options.demotion_lock_ttl = absl::Milliseconds(config.demote_lock_ttl_ms);
  parts->offer_store = std::make_unique<storage::TieredStore>(storage::OfferRecordType(), parts->offer_redis_tier.primary.get(),
                                                              parts->offer_mysql_tier.get(), clock, &parts->metrics,
                                                              store_options, parts->cold_readers.get());
  parts->core = std::make_unique<CatalogCore>(parts->store.get(), clock, &parts->metrics, core_options,
                                              parts->offer_store.get(), parts->redis_tier.views);
  // The raw read path never blocks a gRPC thread: it needs a tier whose
  // MultiGetAsync does not block (the async loops; not yet on a cluster).
  const bool raw_reads = config.redis_async_connections > 0 && product_redis.cluster == nullptr;
  parts->v1_service =
      std::make_unique<CatalogV1Service>(parts->core.get(), observers, absl::Milliseconds(config.max_call_ms),
                                         /*raw_reads=*/raw_reads);
  parts->v2_service =
      std::make_unique<CatalogV2Service>(parts->core.get(), observers, absl::Milliseconds(config.max_call_ms),
                                         /*raw_reads=*/raw_reads);
  // The operator's calls are not subject to admission: demotion is the
  // remedy for a full Redis, needed most under load.
  CallObservers admin_observers = observers;
  admin_observers.max_in_flight = 0;
  std::string admin_token;
  if (!config.admin_token_file.empty()) {
    ASSIGN_OR_RETURN(admin_token, ReadSecretFile(config.admin_token_file, "option admin_token_file"));
    if (admin_token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("option admin_token_file: \"", config.admin_token_file, "\" is empty"));
    }
    // gRPC carries only printable ASCII in metadata: a token with a space,
    // a control character or raw random bytes could never be presented.
    for (const char c : admin_token) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError(absl::StrCat(
            "option admin_token_file: \"", config.admin_token_file,
            "\" holds a character a bearer token cannot carry (use printable ASCII without spaces, e.g. "
            "openssl rand -hex 32)"));
      }
    }
  }
  parts->admin_service =
      std::make_unique<AdminService>(parts->core.get(), admin_observers, &parts->stopping, std::move(admin_token));

  if (!config.metrics_listen_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config.metrics_listen_address, &parts->metrics, &parts->readiness);
    if (!http.ok()) return http.status();
    parts->metrics_http = *std::move(http);
  }

  // Health is served by gRPC's built-in service; linking the generated
  // grpc.health.v1 descriptor lets reflection describe it too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  ASSIGN_OR_RETURN(const std::shared_ptr<grpc::ServerCredentials> credentials, ListenerCredentials(config));
  grpc::ServerBuilder builder;
  // Without SO_REUSEPORT (gRPC's default on Linux), a second server on the
  // same port fails to start instead of silently sharing its connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen_address, credentials, &parts->port);
  // Bounds the memory of requests being received: under pressure gRPC
  // shrinks flow-control windows, so senders of large messages slow down
  // instead of the process growing.
  grpc::ResourceQuota quota("catalog-server");
  quota.Resize(static_cast<size_t>(config.grpc_memory_quota_bytes));
  builder.SetResourceQuota(quota);
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
  parts->server = builder.BuildAndStart();
  if (parts->server == nullptr || parts->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address,
                                               " (port in use? choose another with --listen_address=host:port)"));
  }
  // The admin plane on a server of its own: the public port does not serve
  // it, and its reflection lists only what that server registers (public
  // services there, the admin service here).
  if (!config.admin_listen_address.empty()) {
    grpc::ServerBuilder admin;
    admin.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    admin.AddListeningPort(config.admin_listen_address, credentials, &parts->admin_port);
    admin.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
    admin.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
    admin.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
    admin.RegisterService(parts->admin_service.get());
    parts->admin_server = admin.BuildAndStart();
    if (parts->admin_server == nullptr || parts->admin_port == 0) {
      parts->server->Shutdown();
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", config.admin_listen_address,
          " for the admin plane (port in use? choose another with --admin_listen_address=host:port)"));
    }
  }
  // Connect: its own listener, translating onto the public server's
  // in-process channel (the same handlers, limits, metrics and logs).
  if (!config.http_listen_address.empty()) {
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
    channel_args.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes));
    ConnectOptions connect_options;
    connect_options.json_cache_bytes = static_cast<size_t>(config.http_json_cache_bytes);
    for (absl::string_view origin :
         absl::StrSplit(config.http_cors_allowed_origins, ',', absl::SkipWhitespace())) {
      connect_options.cors_allowed_origins.emplace_back(absl::StripAsciiWhitespace(origin));
    }
    parts->connect = std::make_unique<ConnectService>(
        parts->server->InProcessChannel(channel_args),
        std::vector<const google::protobuf::ServiceDescriptor*>{
            catalog::v1::Product::descriptor()->file()->FindServiceByName("CatalogService"),
            catalog::v2::Product::descriptor()->file()->FindServiceByName("CatalogService")},
        std::move(connect_options), &parts->metrics);
    HttpServerOptions http;
    http.listen_address = config.http_listen_address;
    http.io_threads = static_cast<int>(config.http_io_threads);
    http.max_request_bytes = config.max_message_bytes;
    http.max_connections = config.http_max_connections;
    http.idle_timeout = absl::Milliseconds(config.http_idle_timeout_ms);
    http.max_concurrent_streams = config.http_max_concurrent_streams;
    absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(http, parts->connect.get(), &parts->metrics);
    if (!started.ok()) {
      parts->server->Shutdown();
      if (parts->admin_server != nullptr) parts->admin_server->Shutdown();
      return started.status();
    }
    parts->http = *std::move(started);
  }
  // gRPC health (service "", which balancers and `grpc_health_probe` ask)
  // follows readiness; the server starts SERVING.
  grpc::HealthCheckServiceInterface* health = parts->server->GetHealthCheckService();
  parts->readiness.SetListener([health](bool serving) { health->SetServingStatus(serving); });
  std::vector<Maintenance::Watched> watched;
  for (auto& [name, deployment] : parts->redis) {
    if (name == PlacementOf(parts->topology, "products").redis()) {
      watched.push_back({name, parts->redis_monitor.get()});
    } else {
      deployment->monitor = MakeMonitor(*deployment, &parts->metrics, /*gauges=*/false);
      watched.push_back({name, deployment->monitor.get()});
    }
  }
  parts->maintenance = std::make_unique<Maintenance>(std::move(watched),
                                                     std::vector<storage::TieredStore*>{parts->store.get(),
                                                                                        parts->offer_store.get()},
                                                     &parts->metrics, parts->logger.get(),
                                                     absl::Milliseconds(config.redis_info_interval_ms),
                                                     &parts->readiness);
  DemotionJobOptions demotion;
  demotion.interval = absl::Seconds(config.demote_interval_s);
  demotion.idle = absl::Seconds(config.demote_idle_s);
  demotion.pressure_idle = absl::Seconds(config.demote_pressure_idle_s);
  demotion.target_bytes = config.demote_target_bytes;
  demotion.max_records = config.demote_max_records;
  // Each record type's pressure from the monitor of its own deployment.
  absl::flat_hash_map<std::string, const storage::RedisMonitor*> memory;
  for (const char* record_type : {"products", "offers"}) {
    const std::string& name = PlacementOf(parts->topology, record_type).redis();
    memory[record_type] = name == PlacementOf(parts->topology, "products").redis()
                              ? parts->redis_monitor.get()
                              : parts->redis.at(name)->monitor.get();
  }
  parts->demotion_job = std::make_unique<DemotionJob>(parts->core.get(), &parts->metrics, parts->logger.get(),
                                                      demotion, std::move(memory), &parts->stopping);
  return std::unique_ptr<CatalogServer>(new CatalogServer(std::move(parts)));
}

absl::StatusOr<std::string> CatalogServer::Migrate(const Config& config) {
  ASSIGN_OR_RETURN(const catalog::config::v1::Topology topology, TopologyOf(config));
  ASSIGN_OR_RETURN(auto databases, MySqlDatabases(config, topology));
  // Every database through the migration account, never the serving one.
  ASSIGN_OR_RETURN(const std::string password, OptionSecret(config.migrate_mysql_password,
                                                           config.migrate_mysql_password_file,
                                                           "migrate_mysql_password_file"));
  for (auto& [name, options] : databases) {
    options->user = config.migrate_mysql_user;
    options->password = password;
  }
  storage::Metrics metrics;
  std::string report;
  for (const auto& [record_type, type] : {std::pair{"products", &storage::ProductRecordType()},
                                          std::pair{"offers", &storage::OfferRecordType()}}) {
    const storage::MySqlOptions& options = *databases.at(PlacementOf(topology, record_type).mysql());
    storage::MySqlTier tier(options, *type, &metrics);
    if (absl::Status s = tier.EnsureSchema(absl::Now() + absl::Seconds(30)); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(record_type, ": ", s.message()));
    }
    absl::StrAppend(&report, record_type, ": tables ", type->table, " and ", type->demotion_fence_table, " in ",
                    options.host, ":", options.port, "/", options.database, " are in place\n");
  }
  return report;
}

CatalogServer::CatalogServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

CatalogServer::~CatalogServer() = default;

void CatalogServer::BeginDrain() { parts_->readiness.SetDraining(); }

void CatalogServer::Shutdown(absl::Duration grace) {
  parts_->stopping = true;
  // One deadline for both servers, so stopping takes `grace` at most. The
  // admin plane first: a demotion it runs stops between batches (stopping
  // is set) while the public port drains.
  const auto deadline = absl::ToChronoTime(absl::Now() + grace);
  // Connect first: its calls run on the gRPC server, which must still serve
  // them while they finish.
  if (parts_->http != nullptr) parts_->http->Shutdown(absl::FromChrono(deadline));
  if (parts_->admin_server != nullptr) {
    parts_->admin_server->Shutdown(deadline);
    parts_->admin_server->Wait();
  }
  parts_->server->Shutdown(deadline);
  parts_->server->Wait();
  parts_->demotion_job.reset();
  parts_->maintenance.reset();
}

int CatalogServer::port() const { return parts_->port; }

void CatalogServer::Log(LogLevel level, absl::string_view message) const {
  parts_->logger->Log(LogChannel::kServer, level, message);
}

int CatalogServer::admin_port() const { return parts_->admin_port; }

}  // namespace catalog::service

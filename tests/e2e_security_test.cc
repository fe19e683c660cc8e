// Operating safely, against the real MariaDB and the real server binary:
// the service's MySQL account holds rows only (deploy/mariadb/accounts.sql),
// schema changes go through `catalog-server migrate` with an account of
// their own, the password never needs the command line, and the admin plane
// has its own listener, behind a bearer token when one is set; gRPC, Redis
// and MySQL over TLS (and mTLS) with certificates made at test time.
#include <cppconn/exception.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using catalog::testing::ChildProcess;
using catalog::testing::MySqlClient;

// MariaDB's error code for `sql` run as `client`'s account; 0 if it ran.
int ErrorOf(MySqlClient& client, const std::string& sql) {
  try {
    client.Execute(sql);
    return 0;
  } catch (const sql::SQLException& e) {
    return e.getErrorCode();
  }
}

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
         catalog::testing::UniqueName(name);
}

using catalog::testing::ReadFileText;

// Runs `binary` with `args` until it exits by itself (bounded); its exit
// code and output.
std::pair<int, std::string> RunToExit(const std::vector<std::string>& args,
                                      const std::string& binary = CATALOG_SERVER_BINARY) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  // Never the default admin port: another server of the suite may hold it.
  const bool admin_set = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
    return absl::StartsWith(arg, "--admin_listen_address=");
  });
  if (binary == CATALOG_SERVER_BINARY && !admin_set) argv.push_back("--admin_listen_address=127.0.0.1:0");
  const std::string log = TempPath("server-run") + ".log";
  ChildProcess process;
  process.Start(argv, log);
  const int code = process.Wait(absl::Seconds(60));
  return {code, ReadFileText(log)};
}

// catalog-server's flags for a start on `redis` and `mysql`'s database,
// any free public port (for RunToExit).
template <typename MySql>
std::vector<std::string> ServeArgs(RedisServer& redis, MySql& mysql) {
  return {"--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", redis.port()),
          absl::StrCat("--mysql_port=", mysql.port()), "--mysql_database=" + mysql.database()};
}

constexpr int kTableAccessDenied = 1142;  // ER_TABLEACCESS_DENIED_ERROR

// Work that uses every kind of Redis connection the server opens: writes
// (the pool), demotion (SCAN and its scripts), cold reads promoted and then
// hot reads (the async read loops), L1 hits (the invalidation stream) if
// `l1`, and the INFO monitor. Ids are `prefix`0..19.
void UseEveryRedisConnection(Client& client, const std::string& prefix, bool l1 = true) {
  std::vector<Product> products;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(absl::StrCat(prefix, i));
    products.push_back(MakeProduct(ids.back(), "title " + prefix));
  }
  REQUIRE(client.Upsert(products).ok());
  CHECK(client.Demote(0).demoted() == 20);
  for (int round = 0; round < 50; ++round) {  // Cold reads promote; then L1 (the stream) answers.
    BatchGetProductsResponse response;
    REQUIRE(client.BatchGet(ids, &response).ok());
    REQUIRE(response.products_size() == 20);
    CHECK(response.products(0).title() == "title " + prefix);
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string metrics = Metrics(client);
  if (l1) {
    CHECK(MetricIn(metrics, "catalog_l1_subscriptions_total") >= 1);
    CHECK(MetricIn(metrics, "catalog_l1_hits_total") > 0);
  }
  CHECK(MetricIn(metrics, "catalog_redis_maxmemory_policy_ok") == 1);  // INFO, from the monitor.
}

TEST_CASE("MySQL accounts: the service account reads and writes rows of its database, nothing else") {
  SharedMySql mysql;
  MySqlClient service(mysql.port(), mysql.database(), catalog::testing::kServiceUser,
                      catalog::testing::kServicePassword);
  MySqlClient migrate(mysql.port(), mysql.database(), catalog::testing::kMigrateUser,
                      catalog::testing::kMigratePassword);
  // Files on the database host: the harness's admin account (FILE) reads
  // /etc/passwd, as the old GRANT ALL ON *.* let the service do; the two
  // catalog accounts get NULL.
  CHECK(mysql.client().QueryInt("SELECT LOAD_FILE('/etc/passwd') IS NOT NULL") == 1);
  CHECK(service.QueryInt("SELECT LOAD_FILE('/etc/passwd') IS NULL") == 1);
  CHECK(migrate.QueryInt("SELECT LOAD_FILE('/etc/passwd') IS NULL") == 1);
  CHECK(ErrorOf(service, "SELECT 1 INTO OUTFILE '" + TempPath("outfile") + "'") != 0);
  // The accounts table and the schema.
  CHECK(mysql.client().QueryInt("SELECT COUNT(*) FROM mysql.user") > 0);
  CHECK(ErrorOf(service, "SELECT COUNT(*) FROM mysql.user") == kTableAccessDenied);
  CHECK(ErrorOf(migrate, "SELECT COUNT(*) FROM mysql.user") == kTableAccessDenied);
  CHECK(ErrorOf(service, "CREATE TABLE intruder (a INT)") == kTableAccessDenied);
  CHECK(ErrorOf(service, "DROP TABLE products") == kTableAccessDenied);
  CHECK(ErrorOf(service, "ALTER TABLE products ADD COLUMN b INT") == kTableAccessDenied);
  CHECK(ErrorOf(migrate, "CREATE TABLE allowed_for_migrations (a INT)") == 0);
  // Rows of its own tables.
  CHECK(ErrorOf(service, "INSERT INTO products (id, payload, version) VALUES ('row', 'x', 1)") == 0);
  CHECK(ErrorOf(service, "UPDATE products SET version = 2 WHERE id = 'row'") == 0);
  CHECK(service.QueryInt("SELECT version FROM products WHERE id = 'row'") == 2);
  CHECK(ErrorOf(service, "DELETE FROM products WHERE id = 'row'") == 0);
  // Another database (outside the grant).
  const std::string other = catalog::testing::UniqueName("other");
  mysql.client().Execute("CREATE DATABASE " + other);
  mysql.client().Execute("CREATE TABLE " + other + ".secrets (a INT)");
  CHECK(ErrorOf(service, "SELECT * FROM " + other + ".secrets") == kTableAccessDenied);
  CHECK(ErrorOf(migrate, "SELECT * FROM " + other + ".secrets") == kTableAccessDenied);
  mysql.client().Execute("DROP DATABASE " + other);
}

TEST_CASE("schema step: the server creates no table, refuses to start unmigrated naming the step, then serves") {
  RedisServer redis;
  SharedMySql mysql(/*migrate=*/false);
  const std::vector<std::string> serve = ServeArgs(redis, mysql);
  // The service account (its password from CATALOG_MYSQL_PASSWORD).
  auto [code, log] = RunToExit(serve);
  INFO(log);
  CHECK(code == 1);
  CHECK(absl::StrContains(log, "table products does not exist"));
  CHECK(absl::StrContains(log, "catalog-server migrate"));
  CHECK(mysql.client().QueryInt(absl::StrCat("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '",
                                             mysql.database(), "'")) == 0);
  // The schema step with the service account is refused by MariaDB.
  const std::string service_password = TempPath("service-password");
  std::ofstream(service_password) << catalog::testing::kServicePassword << "\n";
  std::vector<std::string> migrate = serve;
  migrate.insert(migrate.begin(), "migrate");
  migrate.push_back(absl::StrCat("--migrate_mysql_user=", catalog::testing::kServiceUser));
  migrate.push_back("--migrate_mysql_password_file=" + service_password);
  auto [migrate_code, migrate_log] = RunToExit(migrate);
  INFO(migrate_log);
  CHECK(migrate_code == 1);
  CHECK(absl::StrContains(migrate_log, "CREATE command denied"));
  // With catalog_migrate it creates every table, and again changes nothing.
  catalog::testing::MigrateSchema(mysql.port(), mysql.database());
  catalog::testing::MigrateSchema(mysql.port(), mysql.database());
  CHECK(mysql.client().QueryInt(absl::StrCat("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '",
                                             mysql.database(), "'")) == 3);  // products, offers, demotion_fences.
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database());
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("p1", "migrated")}).ok());
  CHECK(client.Demote(0).demoted() == 1);  // Rows written as the service account.
  Product read;
  REQUIRE(client.Get("p1", &read).ok());
  CHECK(read.title() == "migrated");
  // No password on its command line (world-readable).
  const std::string cmdline = ReadFileText(absl::StrCat("/proc/", server.process().pid(), "/cmdline"));
  CHECK(absl::StrContains(cmdline, "--mysql_user=catalog"));
  CHECK_FALSE(absl::StrContains(cmdline, "password"));
}

TEST_CASE("schema check: an account missing a privilege the server needs is refused at start-up, naming it") {
  RedisServer redis;
  SharedMySql mysql;
  const std::string user = catalog::testing::UniqueName("ro");
  for (const char* host : {"localhost", "%"}) {
    const std::string account = absl::StrCat("'", user, "'@'", host, "'");
    mysql.client().Execute(absl::StrCat("CREATE USER ", account, " IDENTIFIED BY 'ro-secret'"));
    // Rows of both record tables, but only SELECT on the demotion fences:
    // demotion could never advance a fence, so no MySQL write would pass.
    for (const char* table : {"products", "offers"}) {
      mysql.client().Execute(
          absl::StrCat("GRANT SELECT, INSERT, UPDATE, DELETE ON ", mysql.database(), ".", table, " TO ", account));
    }
    mysql.client().Execute(absl::StrCat("GRANT SELECT ON ", mysql.database(), ".demotion_fences TO ", account));
  }
  const std::string password_file = TempPath("password");
  std::ofstream(password_file) << "ro-secret\n";
  std::vector<std::string> serve = ServeArgs(redis, mysql);
  serve.insert(serve.end(), {"--mysql_user=" + user, "--mysql_password_file=" + password_file});
  unsetenv("CATALOG_MYSQL_PASSWORD");  // The file instead (both at once are refused).
  auto [code, log] = RunToExit(serve);
  INFO(log);
  CHECK(code == 1);
  CHECK(absl::StrContains(log, "may not run \"UPDATE demotion_fences SET token = token WHERE 1 = 0\""));
  CHECK(absl::StrContains(log, "grant it SELECT, INSERT, UPDATE, DELETE"));
  // The password came from the file: a wrong one is refused by MariaDB, a
  // missing file by the option check.
  std::ofstream(password_file) << "wrong\n";
  auto [wrong_code, wrong_log] = RunToExit(serve);
  CHECK(wrong_code == 1);
  CHECK(absl::StrContains(wrong_log, "Access denied for user"));
  serve.back() = "--mysql_password_file=/nonexistent/password";
  auto [missing_code, missing_log] = RunToExit(serve);
  CHECK(missing_code == 1);
  CHECK(absl::StrContains(missing_log, "option mysql_password_file: cannot read \"/nonexistent/password\""));
  catalog::testing::UseServiceAccountPassword();
  auto [both_code, both_log] = RunToExit(serve);
  CHECK(both_code == 2);
  CHECK(absl::StrContains(both_log, "give mysql_password (or CATALOG_MYSQL_PASSWORD) or mysql_password_file, not both"));
  for (const char* host : {"localhost", "%"}) mysql.client().Execute(absl::StrCat("DROP USER '", user, "'@'", host, "'"));
}

grpc::Status GetMetrics(Client& client, const std::string& token, std::string* text = nullptr) {
  grpc::ClientContext context;
  Client::Deadline(context);
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  catalog::admin::v1::GetMetricsResponse response;
  grpc::Status status = client.admin->GetMetrics(&context, {}, &response);
  if (text != nullptr) *text = response.text();
  return status;
}

TEST_CASE("admin plane: its own listener only, and with admin_token_file every call needs the bearer token") {
  RedisServer redis;
  SharedMySql mysql;
  const std::string token_file = TempPath("admin-token");
  std::ofstream(token_file) << "s3cret-token\n";
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(), {"--admin_token_file=" + token_file});
  Client client(server);
  // Not on the public port at all.
  Client public_only(server.target(), server.target());
  CHECK(GetMetrics(public_only, "s3cret-token").error_code() == grpc::StatusCode::UNIMPLEMENTED);
  // On the admin port: without the token, or with another, nothing.
  grpc::Status none = GetMetrics(client, "");
  CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(absl::StrContains(none.error_message(), "bearer token"));
  CHECK(GetMetrics(client, "s3cret-tokeN").error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(GetMetrics(client, "s3cret-token-and-more").error_code() == grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    context.AddMetadata("authorization", "Bearer s3cret-token");
    catalog::admin::v1::DemoteRequest request;
    request.set_idle_seconds(0);
    catalog::admin::v1::DemoteResponse response;
    CHECK(client.admin->Demote(&context, request, &response).ok());
  }
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::admin::v1::DemoteRequest request;
    catalog::admin::v1::DemoteResponse response;
    CHECK(client.admin->Demote(&context, request, &response).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  }
  std::string text;
  REQUIRE(GetMetrics(client, "s3cret-token", &text).ok());
  CHECK(absl::StrContains(text, "catalog_rpc_requests_total"));
  // catalog-admin: the token from --token_file or CATALOG_ADMIN_TOKEN.
  auto [refused, refused_out] = RunToExit({"--target=" + server.admin_target(), "metrics"}, CATALOG_ADMIN_BINARY);
  CHECK(refused == 1);
  CHECK(absl::StrContains(refused_out, "bearer token"));
  auto [by_file, by_file_out] =
      RunToExit({"--target=" + server.admin_target(), "--token_file=" + token_file, "metrics"}, CATALOG_ADMIN_BINARY);
  INFO(by_file_out);
  CHECK(by_file == 0);
  CHECK(absl::StrContains(by_file_out, "catalog_rpc_requests_total"));
  setenv("CATALOG_ADMIN_TOKEN", "s3cret-token", 1);
  auto [by_env, by_env_out] = RunToExit({"--target=" + server.admin_target(), "metrics"}, CATALOG_ADMIN_BINARY);
  unsetenv("CATALOG_ADMIN_TOKEN");
  CHECK(by_env == 0);
}

TEST_CASE("admin plane: a non-loopback admin address without a token, or an empty token file, stops start-up") {
  RedisServer redis;
  SharedMySql mysql;
  const std::vector<std::string> serve = ServeArgs(redis, mysql);
  std::vector<std::string> open = serve;
  open.push_back("--admin_listen_address=0.0.0.0:0");
  auto [code, log] = RunToExit(open);
  CHECK(code == 2);
  CHECK(absl::StrContains(log, "option admin_listen_address: \"0.0.0.0:0\" is not a loopback address; set "
                               "admin_token_file"));
  const std::string empty_file = TempPath("empty-token");
  std::ofstream(empty_file) << "";
  open.push_back("--admin_token_file=" + empty_file);
  auto [empty_code, empty_log] = RunToExit(open);
  CHECK(empty_code == 1);
  CHECK(absl::StrContains(empty_log, "is empty"));
  // A token gRPC metadata could not carry (a space, a second line).
  std::ofstream(empty_file) << "two words\n";
  auto [spaced_code, spaced_log] = RunToExit(open);
  CHECK(spaced_code == 1);
  CHECK(absl::StrContains(spaced_log, "holds a character a bearer token cannot carry"));
  std::ofstream(empty_file) << "token\n\n";
  CHECK(RunToExit(open).first == 1);
}

TEST_CASE("schema step with a topology file: migrate_mysql_user on every database, the server as the file's account") {
  RedisServer redis;
  SharedMySql products_db(/*migrate=*/false), offers_db(/*migrate=*/false);
  const std::string service_password = TempPath("service-password");
  std::ofstream(service_password) << catalog::testing::kServicePassword << "\n";
  const std::string topology = TempPath("topology") + ".textproto";
  std::ofstream(topology) << "redis { name: \"main\" standalone { address: \"127.0.0.1:" << redis.port() << "\" } }\n"
                          << "mysql { name: \"p\" address: \"127.0.0.1:" << products_db.port()
                          << "\" user: \"catalog\" password_file: \"" << service_password << "\" database: \""
                          << products_db.database() << "\" }\n"
                          << "mysql { name: \"o\" address: \"127.0.0.1:" << offers_db.port()
                          << "\" user: \"catalog\" password_file: \"" << service_password << "\" database: \""
                          << offers_db.database() << "\" }\n"
                          << "records { record_type: \"products\" redis: \"main\" mysql: \"p\" }\n"
                          << "records { record_type: \"offers\" redis: \"main\" mysql: \"o\" }\n";
  const std::string migrate_password = TempPath("migrate-password");
  std::ofstream(migrate_password) << catalog::testing::kMigratePassword << "\n";
  auto [code, out] = RunToExit({"migrate", "--topology_file=" + topology,
                                "--migrate_mysql_password_file=" + migrate_password});
  INFO(out);
  REQUIRE(code == 0);
  // Each database holds its record table and the fence table, nothing else.
  for (SharedMySql* db : {&products_db, &offers_db}) {
    CHECK(db->client().QueryInt(absl::StrCat("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '",
                                             db->database(), "'")) == 2);
  }
  CHECK(products_db.client().QueryInt(absl::StrCat("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                                   "table_schema = '", products_db.database(),
                                                   "' AND table_name = 'products'")) == 1);
  CHECK(offers_db.client().QueryInt(absl::StrCat("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                                 "table_schema = '", offers_db.database(),
                                                 "' AND table_name = 'offers'")) == 1);
  CatalogServerProcess server(1, products_db.port(), products_db.database(), {"--topology_file=" + topology});
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("t1", "topology")}).ok());
  CHECK(client.Demote(0).demoted() == 1);
  CHECK(products_db.client().QueryInt("SELECT COUNT(*) FROM products WHERE id = 't1'") == 1);
}

// A channel to `target` over TLS trusting `ca`, optionally presenting a
// client certificate; the server's name is checked as "localhost".
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target, const std::string& ca,
                                          const std::string& cert = "", const std::string& key = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = catalog::testing::ReadFileText(ca);
  if (!cert.empty()) {
    options.pem_cert_chain = catalog::testing::ReadFileText(cert);
    options.pem_private_key = catalog::testing::ReadFileText(key);
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

// Upserts and reads back one product through `channel`; the status.
grpc::Status RoundTrip(const std::shared_ptr<grpc::Channel>& channel, const std::string& id) {
  auto stub = CatalogService::NewStub(channel);
  grpc::ClientContext write;
  Client::Deadline(write, absl::Seconds(5));
  UpsertProductsRequest request;
  *request.add_products() = MakeProduct(id, "over tls");
  UpsertProductsResponse written;
  if (grpc::Status status = stub->UpsertProducts(&write, request, &written); !status.ok()) return status;
  grpc::ClientContext read;
  Client::Deadline(read, absl::Seconds(5));
  GetProductRequest get;
  get.set_id(id);
  Product product;
  grpc::Status status = stub->GetProduct(&read, get, &product);
  if (status.ok() && product.title() != "over tls") return grpc::Status(grpc::StatusCode::INTERNAL, "wrong title");
  return status;
}

TEST_CASE("gRPC TLS: both listeners serve TLS only with the given certificate, and with a client CA only to its clients") {
  RedisServer redis;
  SharedMySql mysql;
  catalog::testing::TestCertificates certs, other;  // `other`: a CA the server does not know.
  {
    CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(),
                                {"--tls_cert_file=" + certs.server_cert, "--tls_key_file=" + certs.server_key});
    CHECK(RoundTrip(TlsChannel(server.target(), certs.ca), "tls1").ok());
    // Plaintext gets nothing; nor does a client that trusts another CA.
    CHECK(RoundTrip(grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()), "plain").error_code() ==
          grpc::StatusCode::UNAVAILABLE);
    CHECK(RoundTrip(TlsChannel(server.target(), other.ca), "untrusted").error_code() == grpc::StatusCode::UNAVAILABLE);
    // The admin plane is TLS too.
    auto admin = catalog::admin::v1::CatalogAdminService::NewStub(TlsChannel(server.admin_target(), certs.ca));
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::admin::v1::GetMetricsResponse metrics;
    CHECK(admin->GetMetrics(&context, {}, &metrics).ok());
    auto plain_admin = catalog::admin::v1::CatalogAdminService::NewStub(
        grpc::CreateChannel(server.admin_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext plain_context;
    Client::Deadline(plain_context, absl::Seconds(5));
    CHECK(plain_admin->GetMetrics(&plain_context, {}, &metrics).error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  CatalogServerProcess mtls(redis.port(), mysql.port(), mysql.database(),
                            {"--tls_cert_file=" + certs.server_cert, "--tls_key_file=" + certs.server_key,
                             "--tls_client_ca_file=" + certs.ca});
  CHECK(RoundTrip(TlsChannel(mtls.target(), certs.ca, certs.client_cert, certs.client_key), "mtls1").ok());
  CHECK(RoundTrip(TlsChannel(mtls.target(), certs.ca), "no-client-cert").error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  // A client certificate from a CA the server was not given.
  CHECK(RoundTrip(TlsChannel(mtls.target(), certs.ca, other.client_cert, other.client_key), "foreign").error_code() ==
        grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("gRPC TLS: incomplete or unreadable TLS options stop start-up naming the option") {
  RedisServer redis;
  SharedMySql mysql;
  catalog::testing::TestCertificates certs;
  const std::vector<std::string> serve = ServeArgs(redis, mysql);
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = serve;
    args.insert(args.end(), extra.begin(), extra.end());
    return RunToExit(args);
  };
  auto [no_key, no_key_log] = with({"--tls_cert_file=" + certs.server_cert});
  CHECK(no_key == 2);
  CHECK(absl::StrContains(no_key_log, "option tls_key_file: required with tls_cert_file"));
  auto [ca_alone, ca_alone_log] = with({"--tls_client_ca_file=" + certs.ca});
  CHECK(ca_alone == 2);
  CHECK(absl::StrContains(ca_alone_log, "option tls_client_ca_file: needs tls_cert_file and tls_key_file"));
  auto [missing, missing_log] = with({"--tls_cert_file=/nonexistent.pem", "--tls_key_file=" + certs.server_key});
  CHECK(missing == 1);
  CHECK(absl::StrContains(missing_log, "option tls_cert_file: cannot read \"/nonexistent.pem\""));
  auto [not_pem, not_pem_log] = with({"--tls_cert_file=" + certs.server_cert, "--tls_key_file=" + certs.dir + "/server.ext"});
  CHECK(not_pem == 1);
  CHECK(absl::StrContains(not_pem_log, "option tls_key_file: no PEM block in the file"));
}

TEST_CASE("Redis AUTH: the server runs as the ACL user of deploy/redis/catalog.acl, a refused AUTH stops start-up") {
  RedisServer redis;
  SharedMySql mysql;
  // The default user needs a password from now on (the harness uses it).
  REQUIRE(redis.Command({"ACL", "SETUSER", "default", "resetpass", ">admin-secret"})->type == REDIS_REPLY_STATUS);
  redis.SetAuth("default", "admin-secret");
  // The rule as shipped, with this test's password.
  const std::string acl = ReadFileText(CATALOG_SOURCE_DIR "/deploy/redis/catalog.acl");
  const size_t at = acl.find("\nuser catalog ");
  REQUIRE(at != std::string::npos);
  std::vector<std::string> rule = absl::StrSplit(acl.substr(at + 6, acl.find('\n', at + 1) - at - 6), ' ');
  std::vector<std::string> setuser = {"ACL", "SETUSER"};
  for (const std::string& token : rule) setuser.push_back(token == ">change-me" ? ">s3cret" : token);
  auto set = redis.Command(setuser);
  INFO(std::string(set->str, set->len));
  REQUIRE(set->type == REDIS_REPLY_STATUS);
  // The rule bites: no FLUSHALL, CONFIG or KEYS for that user.
  auto dryrun = [&](std::vector<std::string> command) {
    command.insert(command.begin(), {"ACL", "DRYRUN", "catalog"});
    auto reply = redis.Command(command);
    return std::string(reply->str, reply->len);  // OK, or why not.
  };
  for (const std::vector<std::string>& denied :
       {std::vector<std::string>{"FLUSHALL"}, {"KEYS", "*"}, {"CONFIG", "GET", "maxmemory"}, {"SHUTDOWN"}}) {
    INFO(denied[0]);
    CHECK(absl::StrContains(dryrun(denied), "no permissions"));
  }
  CHECK(dryrun({"GET", "x"}) == "OK");
  CHECK(dryrun({"INFO", "memory"}) == "OK");
  CHECK(dryrun({"ROLE"}) == "OK");
  REQUIRE(redis.Command({"ACL", "LOG", "RESET"})->type == REDIS_REPLY_STATUS);

  const std::string password_file = TempPath("redis-password");
  std::ofstream(password_file) << "s3cret\n";
  {
    CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(),
                                {"--redis_user=catalog", "--redis_password_file=" + password_file,
                                 "--redis_info_interval_ms=200"});
    Client client(server);
    UseEveryRedisConnection(client, "acl");
    // Every connection authenticated as catalog, and Redis refused none of
    // its commands.
    auto log = redis.Command({"ACL", "LOG"});
    CHECK(log->elements == 0);
    auto clients = redis.Command({"CLIENT", "LIST"});
    const std::string list(clients->str, clients->len);
    // The pool, the two async read loops and the invalidation stream at least.
    int as_catalog = 0;
    for (absl::string_view line : absl::StrSplit(list, '\n')) as_catalog += absl::StrContains(line, " user=catalog ");
    CHECK(as_catalog >= 4);
  }
  // Wrong or no credentials: start-up stops with Redis's answer.
  const std::vector<std::string> serve = ServeArgs(redis, mysql);
  std::vector<std::string> wrong = serve;
  std::ofstream(password_file) << "not-it\n";
  wrong.push_back("--redis_user=catalog");
  wrong.push_back("--redis_password_file=" + password_file);
  auto [wrong_code, wrong_log] = RunToExit(wrong);
  INFO(wrong_log);
  CHECK(wrong_code == 1);
  CHECK(absl::StrContains(wrong_log, "WRONGPASS"));
  auto [none_code, none_log] = RunToExit(serve);
  INFO(none_log);
  CHECK(none_code == 1);
  CHECK(absl::StrContains(none_log, "NOAUTH"));
}

TEST_CASE("MySQL TLS: with mysql_tls_ca_file every connection is encrypted and the server verified") {
  RedisServer redis;
  catalog::testing::TestCertificates certs, other;
  PrivateMySql mysql({"--ssl-cert=" + certs.server_cert, "--ssl-key=" + certs.server_key, "--ssl-ca=" + certs.ca});
  MySqlClient admin(mysql.port(), mysql.database());
  // The serving account may now connect over TLS only.
  for (const char* host : {"localhost", "%"}) admin.Execute(absl::StrCat("ALTER USER 'catalog'@'", host, "' REQUIRE SSL"));
  const std::vector<std::string> serve = ServeArgs(redis, mysql);
  // Plaintext: refused by MariaDB.
  auto [plain, plain_log] = RunToExit(serve);
  INFO(plain_log);
  CHECK(plain == 1);
  CHECK(absl::StrContains(plain_log, "Access denied"));
  // TLS to a server whose certificate another CA signed: refused by us.
  std::vector<std::string> untrusted = serve;
  untrusted.push_back("--mysql_tls_ca_file=" + other.ca);
  auto [refused, refused_log] = RunToExit(untrusted);
  INFO(refused_log);
  CHECK(refused == 1);
  // TLS verified: serves; MariaDB counts the TLS handshakes.
  const long long accepts_before = admin.QueryInt("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                                  "WHERE VARIABLE_NAME = 'SSL_ACCEPTS'");
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(), {"--mysql_tls_ca_file=" + certs.ca});
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("tls", "encrypted")}).ok());
  CHECK(client.Demote(0).demoted() == 1);
  CHECK(admin.QueryInt("SELECT COUNT(*) FROM products WHERE id = 'tls'") == 1);
  Product read;
  REQUIRE(client.Get("tls", &read).ok());  // Promoted back from MySQL.
  CHECK(read.title() == "encrypted");
  CHECK(admin.QueryInt("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = "
                       "'SSL_ACCEPTS'") > accepts_before);
  // Option errors name the option.
  std::vector<std::string> half = serve;
  half.push_back("--mysql_tls_cert_file=" + certs.client_cert);
  auto [half_code, half_log] = RunToExit(half);
  CHECK(half_code == 2);
  CHECK(absl::StrContains(half_log, "option mysql_tls_key_file: required with mysql_tls_cert_file"));
  std::vector<std::string> missing = serve;
  missing.push_back("--mysql_tls_ca_file=/nonexistent/ca.pem");
  auto [missing_code, missing_log] = RunToExit(missing);
  CHECK(missing_code == 1);
  CHECK(absl::StrContains(missing_log, "option mysql_tls_ca_file: cannot read \"/nonexistent/ca.pem\""));
}

TEST_CASE("Redis TLS: with redis_tls_ca_file every Redis connection is encrypted, both ends verified") {
  SharedMySql mysql;
  catalog::testing::TestCertificates certs, other;
  const int tls_port = catalog::testing::FreePort();
  // Client certificates required (Redis's default for tls-auth-clients);
  // the plaintext port is the harness's own.
  RedisServer redis(catalog::testing::RedisTlsArgs(certs, tls_port, "yes"));
  const std::vector<std::string> tls_flags = {"--redis_tls_ca_file=" + certs.ca,
                                              "--redis_tls_cert_file=" + certs.client_cert,
                                              "--redis_tls_key_file=" + certs.client_key};
  {
    std::vector<std::string> flags = tls_flags;
    flags.push_back("--redis_info_interval_ms=200");
    CatalogServerProcess server(tls_port, mysql.port(), mysql.database(), flags);
    Client client(server);
    UseEveryRedisConnection(client, "tls", /*l1=*/false);
    CHECK(redis.CommandCalls("mget") > 0);  // The async read loops.
    // The server's connections, all on the TLS port (the only one it was
    // given): the pool and the two async read loops at least.
    auto clients = redis.Command({"CLIENT", "LIST"});
    const std::string list(clients->str, clients->len);
    INFO(list);
    int on_tls = 0;
    for (absl::string_view line : absl::StrSplit(list, '\n', absl::SkipEmpty())) {
      on_tls += absl::StrContains(line, absl::StrCat(" laddr=127.0.0.1:", tls_port, " "));
    }
    CHECK(on_tls >= 3);
    // L1 off over TLS, and said so.
    CHECK(MetricIn(Metrics(client), "catalog_l1_subscriptions_total") == 0);
    CHECK(absl::StrContains(server.Log(), "l1_max_bytes is ignored: the products' deployment is reached over TLS"));
  }
  // A Redis whose certificate another CA signed: nothing is sent to it,
  // readiness stays NOT_SERVING, and the log says why.
  {
    CatalogServerProcess server(tls_port, mysql.port(), mysql.database(),
                                {"--redis_tls_ca_file=" + other.ca, "--redis_tls_cert_file=" + certs.client_cert,
                                 "--redis_tls_key_file=" + certs.client_key});
    Client client(server);
    Product read;
    const grpc::Status status = client.Get("tls0", &read);
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(Eventually([&] { return absl::StrContains(server.Log(), "certificate verify failed"); }));
  }
  // Without a client certificate: Redis refuses, and the log names the
  // missing option. Over TLS 1.3 the refusal (alert "certificate required")
  // comes after the handshake, and a reset can drop the alert before it is
  // read; the option is named either way.
  {
    CatalogServerProcess server(tls_port, mysql.port(), mysql.database(), {"--redis_tls_ca_file=" + certs.ca});
    const bool named = Eventually([&] {
      return absl::StrContains(server.Log(),
                               "Redis asked for a client certificate and option redis_tls_cert_file is not set");
    });
    INFO(server.Log());
    CHECK(named);
  }
  // Option errors name the option.
  const std::vector<std::string> serve = {"--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", tls_port),
                                          absl::StrCat("--mysql_port=", mysql.port()),
                                          "--mysql_database=" + mysql.database()};
  std::vector<std::string> half = serve;
  half.push_back("--redis_tls_cert_file=" + certs.client_cert);
  half.push_back("--redis_tls_ca_file=" + certs.ca);
  auto [half_code, half_log] = RunToExit(half);
  INFO(half_log);
  CHECK(half_code == 2);
  CHECK(absl::StrContains(half_log, "option redis_tls_key_file: required with redis_tls_cert_file"));
  std::vector<std::string> missing = serve;
  missing.push_back("--redis_tls_ca_file=/nonexistent/ca.pem");
  auto [missing_code, missing_log] = RunToExit(missing);
  INFO(missing_log);
  CHECK(missing_code == 1);
  CHECK(absl::StrContains(missing_log, "option redis_tls_ca_file: cannot read \"/nonexistent/ca.pem\""));
}

}  // namespace
}  // namespace catalog

// Operating safely, against the real MariaDB and the real server binary:
// the service's MySQL account holds rows only (deploy/mariadb/accounts.sql),
// schema changes go through `catalog-server migrate` with an account of
// their own, the password never needs the command line, and the admin plane
// has its own listener, behind a bearer token when one is set.
#include <cppconn/exception.h>

#include <fstream>

#include "absl/strings/match.h"
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `binary` with `args` until it exits by itself (bounded); its exit
// code and output.
std::pair<int, std::string> RunToExit(const std::vector<std::string>& args,
                                      const std::string& binary = CATALOG_SERVER_BINARY) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log = TempPath("server-run") + ".log";
  ChildProcess process;
  process.Start(argv, log);
  const int code = process.Wait(absl::Seconds(60));
  return {code, ReadFile(log)};
}

constexpr int kTableAccessDenied = 1142;  // ER_TABLEACCESS_DENIED_ERROR

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
  const std::vector<std::string> serve = {"--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", redis.port()),
                                          absl::StrCat("--mysql_port=", mysql.port()),
                                          "--mysql_database=" + mysql.database()};
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
  const std::string cmdline = ReadFile(absl::StrCat("/proc/", server.process().pid(), "/cmdline"));
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
  std::vector<std::string> serve = {"--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", redis.port()),
                                    absl::StrCat("--mysql_port=", mysql.port()), "--mysql_user=" + user,
                                    "--mysql_database=" + mysql.database(), "--mysql_password_file=" + password_file};
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
  const std::vector<std::string> serve = {"--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", redis.port()),
                                          absl::StrCat("--mysql_port=", mysql.port()),
                                          "--mysql_database=" + mysql.database()};
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

}  // namespace
}  // namespace catalog

#include "tests/harness/harness.h"

#include <arpa/inet.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <fcntl.h>
#include <mysql_driver.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace catalog::testing {
namespace {

[[noreturn]] void Fail(const std::string& message) { throw std::runtime_error(message); }

std::string RequireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    Fail(absl::StrCat(name, " is not set: run the tests through tools/test, which starts MariaDB"));
  }
  return value;
}

std::string TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp failed");
  return pattern;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Fail("bind failed");
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return free;
}

}  // namespace

int FreeClusterPort() {
  // Node ports in 20000..25999 and their bus ports (--cluster-port, +6000)
  // in 26000..31999: both below the kernel's ephemeral range (32768 and
  // up), so no client socket takes one meanwhile.
  static std::atomic<int> next{static_cast<int>(getpid() % 6000)};
  for (int tries = 0; tries < 6000; ++tries) {
    const int port = 20000 + next.fetch_add(1) % 6000;
    if (PortFree(port) && PortFree(port + 6000)) return port;
  }
  Fail("no free port pair for a cluster node");
}

bool WaitForPort(int port, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (ok) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return absl::StrCat(prefix, "_", getpid(), "_", counter++, "_", absl::ToUnixMicros(absl::Now()) % 1000000);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(SIGKILL, absl::Seconds(5));
}

void ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) Fail(absl::StrCat("cannot start ", argv[0], ": ", strerror(rc)));
  exit_status_ = -1;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::Stop(int signal, absl::Duration timeout) {
  if (!running()) return exit_status_;
  kill(pid_, signal);
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (!running()) return exit_status_;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

RedisServer::RedisServer() : RedisServer(std::vector<std::string>{}) {}

RedisServer::RedisServer(std::vector<std::string> extra_args, int port)
    : port_(port > 0 ? port : FreePort()), dir_(TempDir("catalog-redis")), extra_args_(std::move(extra_args)) {
  Start();
}

void RedisServer::Start() {
  std::vector<std::string> argv = {"redis-server", "--bind",         "127.0.0.1",  "--port",
                                   std::to_string(port_), "--dir",   dir_,         "--save",
                                   "",             "--appendonly",   "no",         "--maxmemory-policy",
                                   "volatile-lru",
                                   // A replica's full sync starts at once (Redis's default waits 5 s
                                   // for more replicas): quicker tests; extra_args may override.
                                   "--repl-diskless-sync-delay", "0"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_.Start(argv, dir_ + "/redis.log");
  if (!WaitForPort(port_, absl::Seconds(10))) Fail("redis-server did not start");
}

void RedisServer::Start(std::vector<std::string> extra_args) {
  extra_args_ = std::move(extra_args);
  Start();
}

std::string RedisServer::Role() {
  auto reply = Command({"ROLE"});
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) return "";
  return std::string(reply->element[0]->str, reply->element[0]->len);
}

SentinelProcess::SentinelProcess(const std::string& master_name, int master_port, int down_after_ms)
    : port_(FreePort()), dir_(TempDir("catalog-sentinel")) {
  // Sentinel rewrites its configuration file: it must be its own, writable.
  const std::string config = dir_ + "/sentinel.conf";
  std::ofstream out(config);
  out << "bind 127.0.0.1\nport " << port_ << "\ndir " << dir_ << "\n"
      << "sentinel monitor " << master_name << " 127.0.0.1 " << master_port << " 2\n"
      << "sentinel down-after-milliseconds " << master_name << " " << down_after_ms << "\n"
      << "sentinel failover-timeout " << master_name << " 10000\n"
      << "sentinel parallel-syncs " << master_name << " 1\n";
  out.close();
  process_.Start({"redis-sentinel", config}, dir_ + "/sentinel.log");
  if (!WaitForPort(port_, absl::Seconds(10))) Fail("redis-sentinel did not start; see " + dir_ + "/sentinel.log");
}

namespace {
std::unique_ptr<redisReply, void (*)(void*)> CommandAt(int port, const std::vector<std::string>& args,
                                                       const std::vector<std::string>& auth = {}) {
  redisContext* context = redisConnect("127.0.0.1", port);
  if (context == nullptr || context->err) Fail(absl::StrCat("cannot connect to 127.0.0.1:", port));
  auto send = [context](const std::vector<std::string>& command) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  };
  if (!auth.empty()) {
    if (void* reply = send(auth); reply != nullptr) freeReplyObject(reply);
  }
  void* reply = send(args);
  redisFree(context);
  if (reply == nullptr) Fail("no reply");
  return {static_cast<redisReply*>(reply), freeReplyObject};
}
}  // namespace

std::string SentinelProcess::Master(const std::string& master_name) {
  auto reply = CommandAt(port_, {"SENTINEL", "get-master-addr-by-name", master_name});
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return "";
  return absl::StrCat(std::string(reply->element[0]->str, reply->element[0]->len), ":",
                      std::string(reply->element[1]->str, reply->element[1]->len));
}

int SentinelProcess::Replicas(const std::string& master_name) {
  auto reply = CommandAt(port_, {"SENTINEL", "replicas", master_name});
  return reply->type == REDIS_REPLY_ARRAY ? static_cast<int>(reply->elements) : 0;
}

std::string SentinelProcess::ReplicaField(const std::string& master_name, int replica_port, const std::string& field) {
  auto reply = CommandAt(port_, {"SENTINEL", "replicas", master_name});
  if (reply->type != REDIS_REPLY_ARRAY) return "";
  for (size_t r = 0; r < reply->elements; ++r) {
    const redisReply* replica = reply->element[r];
    if (replica->type != REDIS_REPLY_ARRAY) continue;
    std::map<std::string, std::string> fields;
    for (size_t i = 0; i + 1 < replica->elements; i += 2) {
      fields[std::string(replica->element[i]->str, replica->element[i]->len)] =
          std::string(replica->element[i + 1]->str, replica->element[i + 1]->len);
    }
    if (fields["port"] == std::to_string(replica_port)) return fields[field];
  }
  return "";
}

std::string SentinelProcess::Failover(const std::string& master_name) {
  return Command({"SENTINEL", "FAILOVER", master_name});
}

std::string SentinelProcess::Command(const std::vector<std::string>& args) {
  auto reply = CommandAt(port_, args);
  return reply->str != nullptr ? std::string(reply->str, reply->len) : "";
}

namespace {
// One numeric field of SENTINEL master (0 if absent).
int64_t MasterField(int port, const std::string& master_name, const std::string& field) {
  auto reply = CommandAt(port, {"SENTINEL", "master", master_name});
  if (reply->type != REDIS_REPLY_ARRAY) return 0;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    if (std::string(reply->element[i]->str, reply->element[i]->len) == field) {
      return std::stoll(std::string(reply->element[i + 1]->str, reply->element[i + 1]->len));
    }
  }
  return 0;
}
}  // namespace

int SentinelProcess::OtherSentinels(const std::string& master_name) {
  return static_cast<int>(MasterField(port_, master_name, "num-other-sentinels"));
}

int SentinelProcess::Switches() {
  std::ifstream log(dir_ + "/sentinel.log");
  int switches = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("+switch-master") != std::string::npos) ++switches;
  }
  return switches;
}

void SentinelProcess::Stop() { process_.Stop(SIGKILL, absl::Seconds(5)); }

void WaitUntilReplicating(RedisServer& replica) {
  const absl::Time until = absl::Now() + absl::Seconds(30);
  // The replica's view first (its link is up), then the master's: after a
  // diskless full sync the master streams to a replica, and WAIT counts it,
  // only once its first REPLCONF ACK arrived (up to a second later).
  int master_port = 0;
  for (;;) {
    auto info = replica.Command({"INFO", "replication"});
    const std::string text(info->str, info->len);
    if (text.find("master_link_status:up") != std::string::npos) {
      const size_t at = text.find("master_port:");
      if (at != std::string::npos) master_port = std::atoi(text.c_str() + at + 12);
      break;
    }
    if (absl::Now() > until) Fail("the replica did not sync with the master");
    absl::SleepFor(absl::Milliseconds(50));
  }
  // "state=online" in the master's INFO comes before that ACK: the test is
  // a write and a WAIT on one connection (the probe key expires at once).
  const std::string online = absl::StrCat(",port=", replica.port(), ",state=online");
  for (;;) {
    auto info = CommandAt(master_port, {"INFO", "replication"});
    if (std::string(info->str, info->len).find(online) != std::string::npos) {
      redisContext* context = redisConnect("127.0.0.1", master_port);
      if (context == nullptr || context->err) Fail(absl::StrCat("cannot connect to 127.0.0.1:", master_port));
      auto* set = static_cast<redisReply*>(redisCommand(context, "SET catalog-harness:probe 1 PX 100"));
      auto* wait = static_cast<redisReply*>(redisCommand(context, "WAIT 1 200"));
      const bool acked = wait != nullptr && wait->type == REDIS_REPLY_INTEGER && wait->integer >= 1;
      if (set != nullptr) freeReplyObject(set);
      if (wait != nullptr) freeReplyObject(wait);
      redisFree(context);
      if (acked) return;
    }
    if (absl::Now() > until) Fail("the master did not take the replica online");
    absl::SleepFor(absl::Milliseconds(50));
  }
}

RedisClusterProcesses::RedisClusterProcesses(int masters) {
  for (int i = 0; i < 2 * masters; ++i) {
    const int port = FreeClusterPort();
    nodes.push_back(std::make_unique<RedisServer>(
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", "2000", "--cluster-port", std::to_string(port + 6000)},
        port));
  }
  std::vector<std::string> args = {"create"};
  for (const std::string& address : Addresses()) args.push_back(address);
  args.insert(args.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  const std::string log = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                          UniqueName("cluster-create") + ".log";
  if (Cli(args, log) != 0) Fail("redis-cli --cluster create failed; see " + log);
  const absl::Time until = absl::Now() + absl::Seconds(60);
  for (auto& node : nodes) {
    for (;;) {
      auto info = node->Command({"CLUSTER", "INFO"});
      if (std::string(info->str, info->len).find("cluster_state:ok") != std::string::npos) break;
      if (absl::Now() > until) Fail("the cluster did not become ok");
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

std::vector<std::string> RedisClusterProcesses::Addresses() const {
  std::vector<std::string> out;
  for (const auto& node : nodes) out.push_back(absl::StrCat("127.0.0.1:", node->port()));
  return out;
}

std::string RedisClusterProcesses::Id(size_t i) {
  auto reply = nodes[i]->Command({"CLUSTER", "MYID"});
  return std::string(reply->str, reply->len);
}

int RedisClusterProcesses::Cli(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv = {"redis-cli", "--cluster"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess cli;
  cli.Start(argv, log_path);
  return cli.Stop(0, absl::Seconds(120));  // Waits for it to finish.
}

SentinelDeployment::SentinelDeployment() {
  master = std::make_unique<RedisServer>();
  replica = std::make_unique<RedisServer>(
      std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master->port())});
  WaitUntilReplicating(*replica);
  const absl::Time until = absl::Now() + absl::Seconds(30);
  // Started after the replica is in sync, so their first INFO of the master
  // lists it (they would otherwise learn of it up to 10 s later).
  for (int i = 0; i < 3; ++i) sentinels.push_back(std::make_unique<SentinelProcess>(kName, master->port()));
  for (auto& sentinel : sentinels) {
    while (sentinel->Replicas(kName) < 1 || sentinel->OtherSentinels(kName) < 2 ||
           sentinel->ReplicaField(kName, replica->port(), "master-link-status") != "ok") {
      if (absl::Now() > until) Fail("the sentinels did not discover the replica (in sync) and each other");
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

std::string SentinelDeployment::SentinelList() const {
  std::string out;
  for (const auto& sentinel : sentinels) absl::StrAppend(&out, out.empty() ? "" : ",", sentinel->address());
  return out;
}

int SentinelDeployment::MasterPort() {
  for (auto& sentinel : sentinels) {
    const std::string master = sentinel->Master(kName);
    const size_t colon = master.rfind(':');
    if (colon != std::string::npos) return std::stoi(master.substr(colon + 1));
  }
  return 0;
}

bool SentinelDeployment::WaitForMaster(int port, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  const std::string want = absl::StrCat("127.0.0.1:", port);
  for (;;) {
    bool all = true;
    for (auto& sentinel : sentinels) all = all && sentinel->Master(kName) == want;
    if (all) return true;
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int SentinelDeployment::Failovers() {
  int failovers = 0;
  for (auto& sentinel : sentinels) failovers = std::max(failovers, sentinel->Switches());
  return failovers;
}

void RedisServer::Stop() { process_.Stop(SIGKILL, absl::Seconds(5)); }

std::unique_ptr<redisReply, void (*)(void*)> RedisServer::Command(const std::vector<std::string>& args) {
  return CommandAt(port_, args, auth_);
}

long long RedisServer::CommandCalls(const std::string& command) {
  auto reply = Command({"INFO", "commandstats"});
  const std::string text(reply->str, reply->len);
  const std::string key = absl::StrCat("cmdstat_", command, ":calls=");
  const size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  return std::stoll(text.substr(at + key.size()));
}

void RedisServer::ResetStats() { Command({"CONFIG", "RESETSTAT"}); }

TestCertificates::TestCertificates() : dir(TempDir("catalog-certs")) {
  ca = dir + "/ca.pem";
  server_cert = dir + "/server.pem";
  server_key = dir + "/server.key";
  client_cert = dir + "/client.pem";
  client_key = dir + "/client.key";
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
  std::ofstream(dir + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'; exec 2>openssl.log; ",
      "openssl req -x509 ", key, " -keyout ca.key -out ca.pem -days 2 -subj /CN=catalog-test-ca; ",
      "openssl req ", key, " -keyout server.key -out server.csr -subj /CN=localhost; ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile server.ext; ",
      "openssl req ", key, " -keyout client.key -out client.csr -subj /CN=catalog-test-client; ",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 "
      "-extfile client.ext");
  const std::vector<std::string> argv = {"bash", "-c", script};
  ChildProcess openssl;
  openssl.Start(argv, dir + "/openssl.out");
  if (openssl.Wait(absl::Seconds(60)) != 0) Fail("openssl failed; see " + dir + "/openssl.log");
}

std::vector<std::string> RedisTlsArgs(const TestCertificates& certs, int tls_port, const std::string& auth_clients) {
  return {"--tls-port",         std::to_string(tls_port), "--tls-cert-file",    certs.server_cert,
          "--tls-key-file",     certs.server_key,         "--tls-ca-cert-file", certs.ca,
          "--tls-auth-clients", auth_clients};
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void UseServiceAccountPassword() { setenv("CATALOG_MYSQL_PASSWORD", kServicePassword, 1); }

void MigrateSchema(int port, const std::string& database) {
  const std::string dir = TempDir("catalog-migrate");
  std::ofstream(dir + "/password") << kMigratePassword << "\n";
  ChildProcess migrate;
  migrate.Start({CATALOG_SERVER_BINARY, "migrate", absl::StrCat("--mysql_port=", port),
                 "--mysql_database=" + database, absl::StrCat("--migrate_mysql_user=", kMigrateUser),
                 "--migrate_mysql_password_file=" + dir + "/password"},
                dir + "/migrate.log");
  if (const int code = migrate.Wait(absl::Seconds(60)); code != 0) {
    Fail(absl::StrCat("catalog-server migrate exited ", code, "; see ", dir, "/migrate.log"));
  }
}

MySqlClient::MySqlClient(int port, const std::string& database, const std::string& user,
                         const std::string& password) {
  sql::ConnectOptionsMap options;
  options["hostName"] = sql::SQLString(absl::StrCat("tcp://127.0.0.1:", port));
  options["userName"] = sql::SQLString(user);
  options["password"] = sql::SQLString(password);
  if (!database.empty()) options["schema"] = sql::SQLString(database);
  connection_.reset(sql::mysql::get_mysql_driver_instance()->connect(options));
}

MySqlClient::~MySqlClient() = default;

void MySqlClient::Execute(const std::string& sql) {
  std::unique_ptr<sql::Statement> statement(connection_->createStatement());
  statement->execute(sql);
}

long long MySqlClient::QueryInt(const std::string& sql) {
  std::unique_ptr<sql::Statement> statement(connection_->createStatement());
  std::unique_ptr<sql::ResultSet> result(statement->executeQuery(sql));
  if (!result->next()) Fail("query returned no row: " + sql);
  return result->getInt64(1);
}

long long MySqlClient::ComSelect() {
  std::unique_ptr<sql::Statement> statement(connection_->createStatement());
  std::unique_ptr<sql::ResultSet> result(statement->executeQuery("SHOW GLOBAL STATUS LIKE 'Com_select'"));
  if (!result->next()) Fail("no Com_select");
  return std::stoll(result->getString(2).asStdString());
}

SharedMySql::SharedMySql(bool migrate)
    : port_(std::stoi(RequireEnv("CATALOG_TEST_MYSQL_PORT"))), database_(UniqueName("catalog_test")) {
  MySqlClient(port_, "").Execute("CREATE DATABASE " + database_);
  if (migrate) MigrateSchema(port_, database_);
  UseServiceAccountPassword();
  client_ = std::make_unique<MySqlClient>(port_, database_);
}

PrivateMySql::PrivateMySql(std::vector<std::string> extra_args)
    : port_(FreePort()), dir_(TempDir("catalog-mariadb")), extra_args_(std::move(extra_args)) {
  const std::string template_dir = RequireEnv("CATALOG_TEST_MYSQL_TEMPLATE");
  std::filesystem::copy(template_dir, dir_ + "/data", std::filesystem::copy_options::recursive);
  Start();
  MigrateSchema(port_, database_);
  UseServiceAccountPassword();
}

PrivateMySql::~PrivateMySql() {
  Stop();
  std::filesystem::remove_all(dir_);
}

void PrivateMySql::Start() {
  std::vector<std::string> argv = {"mariadbd",
                                   "--no-defaults",
                                   "--datadir=" + dir_ + "/data",
                                   "--port=" + std::to_string(port_),
                                   "--bind-address=127.0.0.1",
                                   "--socket=" + dir_ + "/mysqld.sock",
                                   "--pid-file=" + dir_ + "/mysqld.pid",
                                   "--user=" + std::string(getenv("USER") ? getenv("USER") : "root"),
                                   "--skip-log-bin",
                                   "--innodb-buffer-pool-size=32M",
                                   "--log-error=" + dir_ + "/mysqld.log"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_.Start(argv, dir_ + "/mariadbd.out");
  if (!WaitForPort(port_, absl::Seconds(60))) Fail("private mariadbd did not start");
}

void PrivateMySql::Stop() { process_.Stop(SIGKILL, absl::Seconds(10)); }

CatalogServerProcess::CatalogServerProcess(int redis_port, int mysql_port, const std::string& database,
                                           const std::vector<std::string>& extra_flags)
    : port_(FreePort()) {
  std::vector<std::string> argv = {CATALOG_SERVER_BINARY,
                                   absl::StrCat("--listen_address=127.0.0.1:", port_),
                                   absl::StrCat("--redis_port=", redis_port),
                                   absl::StrCat("--mysql_port=", mysql_port),
                                   absl::StrCat("--mysql_user=", kServiceUser),
                                   "--mysql_database=" + database};
  UseServiceAccountPassword();
  bool admin_set = false;
  int http_port = 0;
  for (const std::string& flag : extra_flags) {
    const size_t colon = flag.rfind(':');
    if (absl::StartsWith(flag, "--admin_listen_address=")) {
      admin_set = true;
      if (colon != std::string::npos) (void)absl::SimpleAtoi(flag.substr(colon + 1), &admin_port_);
    }
    if (absl::StartsWith(flag, "--http_listen_address=") && colon != std::string::npos) {
      (void)absl::SimpleAtoi(flag.substr(colon + 1), &http_port);
    }
  }
  if (!admin_set) {
    admin_port_ = FreePort();
    argv.push_back(absl::StrCat("--admin_listen_address=127.0.0.1:", admin_port_));
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  log_path_ = TempDir("catalog-server") + "/server.log";
  process_.Start(argv, log_path_);
  if (!WaitForPort(port_, absl::Seconds(30))) Fail("catalog-server did not start; see " + log_path_);
  // The Connect listener opens after the gRPC port (and before readiness):
  // a test may call it as soon as this returns.
  if (http_port > 0 && !WaitForPort(http_port, absl::Seconds(30))) {
    Fail("catalog-server's Connect listener did not open; see " + log_path_);
  }
}

std::string CatalogServerProcess::Log() const {
  std::ifstream in(log_path_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int CatalogServerProcess::Terminate(absl::Duration timeout) { return process_.Stop(SIGTERM, timeout); }

}  // namespace catalog::testing

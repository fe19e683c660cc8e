// Test harness: real redis-server, mariadbd and catalog-server processes on
// free loopback ports, plus direct clients to inspect them (command counts,
// rows). Used by integration and end-to-end tests only.
//
// The shared MariaDB comes from tools/test (CATALOG_TEST_MYSQL_PORT); each
// test gets its own database in it. Redis servers are cheap, so each test
// starts its own. A private mariadbd (for "MySQL down" tests) starts from the
// data directory template in CATALOG_TEST_MYSQL_TEMPLATE.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace sql {
class Connection;
}

namespace catalog::testing {

int FreePort();
// A free port p in 20000..25999 with p + 6000 free too (a cluster node and
// its bus, --cluster-port).
int FreeClusterPort();
bool WaitForPort(int port, absl::Duration timeout);
std::string UniqueName(const std::string& prefix);

// A child process, killed on destruction if still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  void Start(const std::vector<std::string>& argv, const std::string& log_path);
  // Sends `signal` and waits up to `timeout`; returns the exit code (or
  // 128 + signal), or -1 if it did not exit (it is then SIGKILLed).
  int Stop(int signal, absl::Duration timeout);
  // Waits up to `timeout` for it to exit by itself; its exit code, or -1
  // (it is then SIGKILLed).
  int Wait(absl::Duration timeout) { return Stop(0, timeout); }
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

class RedisServer {
 public:
  // Starts at once on a free port; `extra_args` are added to the command
  // line (e.g. {"--replicaof", "127.0.0.1", "6379"}).
  RedisServer();
  // `port` 0: a free one.
  explicit RedisServer(std::vector<std::string> extra_args, int port = 0);
  void Start();  // Again on the same port after Stop().
  // The same with other extra arguments from now on.
  void Start(std::vector<std::string> extra_args);
  void Stop();
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  // Runs one command on a fresh connection; dies on transport failure.
  std::unique_ptr<redisReply, void (*)(void*)> Command(const std::vector<std::string>& args);
  // `calls` of one command from INFO commandstats (0 if never called).
  long long CommandCalls(const std::string& command);
  void ResetStats();
  // The first word of ROLE: "master" or "slave".
  std::string Role();

 private:
  int port_;
  std::string dir_;
  std::vector<std::string> extra_args_;
  ChildProcess process_;
  std::vector<std::string> auth_;  // AUTH arguments for Command, if set.

 public:
  // Command sends AUTH with these first from now on (for a server whose
  // default user needs a password).
  void SetAuth(const std::string& user, const std::string& password) { auth_ = {"AUTH", user, password}; }
};

// Waits until `replica` reports its link to the master up and the master
// counts it in WAIT (a probe write, catalog-harness:probe, expires at once;
// `WAIT 1` proves this replica only where the master has no other, as in
// every use here); fails after 30 s.
void WaitUntilReplicating(RedisServer& replica);

// A Redis Cluster on loopback: `masters` masters with one replica each
// (redis-cli --cluster create), ready (cluster_state:ok on every node) when
// constructed.
struct RedisClusterProcesses {
  std::vector<std::unique_ptr<RedisServer>> nodes;  // Masters first as created.
  explicit RedisClusterProcesses(int masters = 3);
  // "127.0.0.1:p" of every node.
  std::vector<std::string> Addresses() const;
  // Node id (CLUSTER MYID) of node i.
  std::string Id(size_t i);
  // Runs redis-cli --cluster with `args` (e.g. reshard ...); its exit code.
  int Cli(const std::vector<std::string>& args, const std::string& log_path);
};

// A redis-sentinel monitoring `master_name` at 127.0.0.1:master_port with
// quorum 2 and down-after-milliseconds `down_after_ms`. Keep it well above
// Sentinel's 1 s ping period: at 1000 a sentinel can find a master it has
// just switched to "down" before its first PING is even due, and start a
// second failover (README, Failover; seen in this repository's failover test).
class SentinelProcess {
 public:
  SentinelProcess(const std::string& master_name, int master_port, int down_after_ms = 3000);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // "ip:port" of the master it names now ("" if none).
  std::string Master(const std::string& master_name);
  // Failovers it has carried out or learnt of (+switch-master in its log).
  int Switches();
  // Replicas it knows for the master (SENTINEL replicas).
  int Replicas(const std::string& master_name);
  // One field of what it knows of the replica at 127.0.0.1:replica_port
  // (SENTINEL replicas, e.g. "slave-priority", "flags"); "" if unknown.
  std::string ReplicaField(const std::string& master_name, int replica_port, const std::string& field);
  // SENTINEL FAILOVER: "OK", or the error text.
  std::string Failover(const std::string& master_name);
  // Any command: the status or error text of its reply.
  std::string Command(const std::vector<std::string>& args);
  // Other sentinels it knows for the master (num-other-sentinels).
  int OtherSentinels(const std::string& master_name);
  void Stop();

 private:
  int port_;
  std::string dir_;
  ChildProcess process_;
};

// A Redis master, one replica and three sentinels (quorum 2) on loopback,
// ready for a failover when constructed: the replica in sync, every
// sentinel knowing the replica and the two other sentinels.
struct SentinelDeployment {
  static constexpr char kName[] = "catalog";
  std::unique_ptr<RedisServer> master;
  std::unique_ptr<RedisServer> replica;
  std::vector<std::unique_ptr<SentinelProcess>> sentinels;

  SentinelDeployment();
  // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3".
  std::string SentinelList() const;
  // The port the first answering sentinel names as master (0: none).
  int MasterPort();
  // Waits until every sentinel names `port` as the master (false on timeout).
  bool WaitForMaster(int port, absl::Duration timeout);
  // Failovers since the deployment began: the most any sentinel has seen
  // (a config epoch would not do: an election retried after a split vote
  // wins with a higher one for the same failover).
  int Failovers();
};

// The accounts tools/test creates (deploy/mariadb/accounts.sql, granted on
// catalog%): the server's, the schema step's, and the harness's own.
inline constexpr char kServiceUser[] = "catalog";
inline constexpr char kServicePassword[] = "catalog";
inline constexpr char kMigrateUser[] = "catalog_migrate";
inline constexpr char kMigratePassword[] = "catalog-migrate";
inline constexpr char kTestAdminUser[] = "catalog_test_admin";
inline constexpr char kTestAdminPassword[] = "catalog-test-admin";

// Sets CATALOG_MYSQL_PASSWORD to the service account's password, so every
// catalog-server this process starts afterwards inherits it (SharedMySql,
// PrivateMySql and CatalogServerProcess call it).
void UseServiceAccountPassword();

// Runs `catalog-server migrate` as catalog_migrate on `database` (password
// from a file, as in production); fails the test if it does not exit 0.
void MigrateSchema(int port, const std::string& database);

// A connection to a MariaDB server, by default as the harness's own
// catalog_test_admin (creates databases, reads counters, edits rows).
class MySqlClient {
 public:
  MySqlClient(int port, const std::string& database, const std::string& user = kTestAdminUser,
              const std::string& password = kTestAdminPassword);
  ~MySqlClient();
  void Execute(const std::string& sql);
  long long QueryInt(const std::string& sql);
  long long ComSelect();  // Global Com_select counter.

 private:
  std::unique_ptr<sql::Connection> connection_;
};

// The MariaDB of tools/test, with a database created for this test and
// migrated (`catalog-server migrate`) unless `migrate` is false.
class SharedMySql {
 public:
  explicit SharedMySql(bool migrate = true);
  int port() const { return port_; }
  const std::string& database() const { return database_; }
  MySqlClient& client() { return *client_; }

 private:
  int port_;
  std::string database_;
  std::unique_ptr<MySqlClient> client_;
};

// A private mariadbd that a test may stop and start.
class PrivateMySql {
 public:
  // `extra_args` go to mariadbd's command line (e.g. --ssl-cert=...).
  explicit PrivateMySql(std::vector<std::string> extra_args = {});
  ~PrivateMySql();
  void Start();
  void Stop();
  int port() const { return port_; }
  const std::string& database() const { return database_; }

 private:
  int port_;
  std::string dir_;
  std::string database_ = "catalog";
  std::vector<std::string> extra_args_;
  ChildProcess process_;
};

// Certificates made with the openssl CLI for one test, PEM files under a
// fresh directory: a CA, a server certificate for 127.0.0.1 and localhost,
// and a client certificate (CN catalog-test-client), both signed by that CA.
// Fails the test if openssl does.
struct TestCertificates {
  TestCertificates();
  std::string dir, ca, server_cert, server_key, client_cert, client_key;
};

// redis-server arguments adding a TLS port `tls_port` that presents
// `certs`' server certificate and trusts its CA; `auth_clients` is Redis's
// tls-auth-clients (yes, optional, no).
std::vector<std::string> RedisTlsArgs(const TestCertificates& certs, int tls_port, const std::string& auth_clients);

// A file's content ("" if it cannot be read).
std::string ReadFileText(const std::string& path);

// The real catalog-server binary, serving as the `catalog` account (its
// password from the environment, CATALOG_MYSQL_PASSWORD, never in argv).
class CatalogServerProcess {
 public:
  CatalogServerProcess(int redis_port, int mysql_port, const std::string& database,
                       const std::vector<std::string>& extra_flags = {});
  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  // Its admin plane (--admin_listen_address on a free loopback port, unless
  // `extra_flags` set one).
  std::string admin_target() const { return "127.0.0.1:" + std::to_string(admin_port_); }
  // The server's stderr (its log) so far.
  std::string Log() const;
  // SIGTERM; returns the exit code.
  int Terminate(absl::Duration timeout = absl::Seconds(30));
  ChildProcess& process() { return process_; }

 private:
  int port_;
  int admin_port_ = 0;
  std::string log_path_;
  ChildProcess process_;
};

}  // namespace catalog::testing

// MySqlTier: the cold tier in one MySQL/MariaDB table, and MySqlPool, its
// connections (mysql-connector-c++ 1.1, whose exceptions enter the codebase
// only in mysql_tier.cc's ToStatus()).
//
// Every statement is one round trip over the text protocol. Ids and payloads
// are sent as hex literals (X'..'), which is binary-safe without escaping.
// Statements are bounded on the server by `SET STATEMENT max_statement_time`
// from the caller's deadline, and on the client by read/write timeouts.
//
// Contract: see ColdTier. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "storage/connection_pool.h"
#include "storage/record_codec.h"
#include "storage/tiers.h"

namespace sql {
class Connection;
class Statement;
}  // namespace sql

namespace catalog::storage {

struct MySqlOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "catalog";
  std::string password;
  std::string database = "catalog";
  // Connect and I/O bounds; the client library counts whole seconds.
  // Defaults 1 s each.
  int connect_timeout_seconds = 1;
  int io_timeout_seconds = 1;
  // Pool size and wait bound.
  PoolOptions pool;
  // TLS: with a CA file, every connection is encrypted and the server's
  // certificate must be signed by that CA and name `host` (a server
  // without TLS, or with another certificate, is refused). Client
  // certificate and key, optional (for accounts that REQUIRE X509).
  // Default: no TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

class MySqlConnection {
 public:
  MySqlConnection(std::unique_ptr<sql::Connection> connection, int64_t max_packet_bytes);
  ~MySqlConnection();
  sql::Connection& get() { return *connection_; }
  // The server's max_allowed_packet for this session (fixed at connect).
  int64_t max_packet_bytes() const { return max_packet_bytes_; }

 private:
  std::unique_ptr<sql::Connection> connection_;
  const int64_t max_packet_bytes_;
};

class MySqlTier : public ColdTier {
 public:
  // `metrics` must outlive the tier; `options` is copied.
  MySqlTier(const MySqlOptions& options, RecordType type, Metrics* metrics);
  ~MySqlTier() override;

  // The migration step (`catalog-server migrate`, run with an account that
  // may create tables): creates the record table and the demotion fence
  // table if they do not exist. The serving account is not granted CREATE.
  absl::Status EnsureSchema(absl::Time deadline);

  // What the server checks at start-up instead, with its own account: OK if
  // both tables exist and that account can read and write them;
  // FAILED_PRECONDITION naming the table and the migration step if one does
  // not exist; PERMISSION_DENIED naming the table and the privileges the
  // account lacks; UNAVAILABLE/DEADLINE_EXCEEDED if MySQL cannot be asked;
  // INTERNAL naming MariaDB's error if the account cannot log in (1045) or
  // use the database (1044).
  absl::Status CheckSchema(absl::Time deadline);

  absl::StatusOr<std::vector<std::optional<ColdRecord>>> MultiGet(absl::Span<const std::string> ids,
                                                                  absl::Time deadline) override;
  // With a fencing token: one transaction that first advances the token's
  // row in type.demotion_fence_table (refused if it holds a greater one),
  // then writes the records.
  absl::StatusOr<std::vector<bool>> PutIfNewer(absl::Span<const ColdWrite> records, absl::Time deadline,
                                               int64_t fencing_token) override;
  // From the newest connection's max_allowed_packet (connects one if none
  // was made yet).
  absl::StatusOr<int64_t> MaxRecordBytes(absl::Time deadline) override;

 private:
  // Runs `sql` (bounded by `deadline`) on a pooled connection; `run` gets the
  // statement and the bounded SQL text. Exceptions become statuses here.
  template <typename Result, typename Run>
  absl::StatusOr<Result> Execute(const std::string& sql, absl::Time deadline, Run run);
  // SELECT id, payload, version of `ids`, keyed by id.
  absl::StatusOr<absl::flat_hash_map<std::string, ColdRecord>> SelectRows(ConnectionPool<MySqlConnection>::Lease& lease,
                                                                          absl::Span<const std::string> ids,
                                                                          absl::Time deadline);
  // A transaction control statement (no max_statement_time wrapper).
  absl::Status Control(ConnectionPool<MySqlConnection>::Lease& lease, const char* sql);
  // In an open transaction: records `fencing_token` for the record type,
  // or rolls back with FAILED_PRECONDITION if a greater one is recorded.
  absl::Status ClaimFence(ConnectionPool<MySqlConnection>::Lease& lease, int64_t fencing_token, absl::Time deadline);
  // The same on a connection already leased.
  template <typename Run>
  auto RunOn(ConnectionPool<MySqlConnection>::Lease& lease, const std::string& sql, absl::Time deadline, Run run)
      -> absl::StatusOr<decltype(run(std::declval<sql::Statement&>(), sql))>;

  const MySqlOptions options_;
  const RecordType type_;
  Metrics* const metrics_;
  // max_allowed_packet of the newest connection (0: none yet).
  std::atomic<int64_t> max_packet_bytes_{0};
  ConnectionPool<MySqlConnection> pool_;
  // catalog_mysql_statement_duration_seconds / _errors_total of this pool.
  OperationMetrics operations_;
};

}  // namespace catalog::storage

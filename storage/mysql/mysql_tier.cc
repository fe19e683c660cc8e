#include "storage/mysql/mysql_tier.h"

#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

std::string Endpoint(const MySqlOptions& options) { return absl::StrCat("mysql ", options.host, ":", options.port); }

// The one place mysql-connector-c++ exceptions become statuses.
absl::Status ToStatus(const sql::SQLException& e, const MySqlOptions& options, absl::Time deadline) {
  const std::string text =
      absl::StrCat(Endpoint(options), ": ", e.what(), " (error ", e.getErrorCode(), ", state ", e.getSQLState(), ")");
  switch (e.getErrorCode()) {
    case 1969:  // ER_STATEMENT_TIMEOUT: max_statement_time from our deadline.
      return absl::DeadlineExceededError(text);
    case 2002:  // CR_CONNECTION_ERROR
    case 2003:  // CR_CONN_HOST_ERROR
    case 2005:  // CR_UNKNOWN_HOST
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1040:  // ER_CON_COUNT_ERROR
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1205:  // ER_LOCK_WAIT_TIMEOUT
    case 1213:  // ER_LOCK_DEADLOCK
    case 1927:  // ER_CONNECTION_KILLED
      return absl::Now() >= deadline ? absl::DeadlineExceededError(text) : absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

std::string Hex(absl::string_view bytes) { return absl::StrCat("X'", absl::BytesToHexString(bytes), "'"); }

// Room for everything in a PutIfNewer statement but the rows: SET STATEMENT,
// INSERT INTO ..., ON DUPLICATE KEY UPDATE ..., the packet header.
constexpr int64_t kStatementOverhead = 1024;
// A row's bytes beyond its hex-encoded id and payload: "(X'',X'',<version>,NOW(6)),"
// is under 48. Hex doubles everything, so per record byte this is
// kColdRowOverheadBytes (tiers.h), which callers use to batch.
constexpr int64_t kRowOverhead = 2 * kColdRowOverheadBytes;
static_assert(kRowOverhead >= 48);

int64_t RowBytes(const ColdWrite& record) {
  return 2 * static_cast<int64_t>(record.id.size() + record.payload.size()) + kRowOverhead;
}

// The largest id + payload one statement can carry under `max_packet`.
int64_t MaxRecordBytesFor(int64_t max_packet) { return (max_packet - kStatementOverhead - kRowOverhead) / 2; }

}  // namespace

MySqlConnection::MySqlConnection(std::unique_ptr<sql::Connection> connection, int64_t max_packet_bytes)
    : connection_(std::move(connection)), max_packet_bytes_(max_packet_bytes) {}
MySqlConnection::~MySqlConnection() = default;

namespace {
// The statement kinds the operation label names; others are "other".
const std::vector<absl::string_view>* MySqlOperationNames() {
  static const auto* const names = new std::vector<absl::string_view>{
      "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "START", "BEGIN", "COMMIT", "ROLLBACK", "SET", "DO"};
  return names;
}
// The statement's first keyword ("SELECT ..." -> "SELECT").
absl::string_view FirstKeyword(absl::string_view sql) {
  sql = absl::StripLeadingAsciiWhitespace(sql);
  return sql.substr(0, sql.find_first_of(" \t\n("));
}
}  // namespace

MySqlTier::MySqlTier(const MySqlOptions& options, RecordType type, Metrics* metrics)
    : options_(options),
      type_(std::move(type)),
      metrics_(metrics),
      pool_(
          NamedPoolOptions(options.pool, Endpoint(options)),
          [this](absl::Time deadline) -> absl::StatusOr<std::unique_ptr<MySqlConnection>> {
            metrics_->Add(Counter::mysql_connects_total);
            sql::ConnectOptionsMap connect;
            connect["hostName"] = sql::SQLString(absl::StrCat("tcp://", options_.host, ":", options_.port));
            connect["userName"] = sql::SQLString(options_.user);
            connect["password"] = sql::SQLString(options_.password);
            connect["schema"] = sql::SQLString(options_.database);
            connect["OPT_CONNECT_TIMEOUT"] = options_.connect_timeout_seconds;
            connect["OPT_READ_TIMEOUT"] = options_.io_timeout_seconds;
            connect["OPT_WRITE_TIMEOUT"] = options_.io_timeout_seconds;
            connect["OPT_RECONNECT"] = false;
            if (!options_.tls_ca_file.empty()) {
              // Enforced and verified: no silent fall-back to plaintext.
              connect["sslCA"] = sql::SQLString(options_.tls_ca_file);
              connect["sslEnforce"] = true;
              connect["sslVerify"] = true;
              if (!options_.tls_cert_file.empty()) {
                connect["sslCert"] = sql::SQLString(options_.tls_cert_file);
                connect["sslKey"] = sql::SQLString(options_.tls_key_file);
              }
            }
            try {
              std::unique_ptr<sql::Connection> connection(sql::mysql::get_mysql_driver_instance()->connect(connect));
              // Fixed for the session at connect: read it once, here.
              std::unique_ptr<sql::Statement> statement(connection->createStatement());
              std::unique_ptr<sql::ResultSet> packet(statement->executeQuery("SELECT @@session.max_allowed_packet"));
              const int64_t max_packet = packet->next() ? packet->getInt64(1) : 0;
              // The newest connection's: an operator who raised it (as the
              // too-large warning asks) is heard without a restart.
              max_packet_bytes_.store(max_packet);
              return std::make_unique<MySqlConnection>(std::move(connection), max_packet);
            } catch (const sql::SQLException& e) {
              metrics_->Add(Counter::mysql_errors_total);
              return ToStatus(e, options_, deadline);
            }
          },
          metrics),
      operations_(metrics, HistogramFamily::mysql_statement_duration_seconds, CounterFamily::mysql_statement_errors_total,
                  Endpoint(options), MySqlOperationNames()) {
  // The driver singleton initializes the client library; do it once here
  // rather than racing from request threads.
  sql::mysql::get_mysql_driver_instance();
}

MySqlTier::~MySqlTier() = default;

template <typename Result, typename Run>
absl::StatusOr<Result> MySqlTier::Execute(const std::string& sql, absl::Time deadline, Run run) {
  absl::StatusOr<ConnectionPool<MySqlConnection>::Lease> lease = pool_.Acquire(deadline);
  if (!lease.ok()) {
    metrics_->Add(Counter::mysql_errors_total);
    operations_.RecordError(FirstKeyword(sql));
    return lease.status();
  }
  return RunOn(*lease, sql, deadline, run);
}

template <typename Run>
auto MySqlTier::RunOn(ConnectionPool<MySqlConnection>::Lease& lease, const std::string& sql, absl::Time deadline,
                      Run run) -> absl::StatusOr<decltype(run(std::declval<sql::Statement&>(), sql))> {
  const absl::Duration remaining = deadline - absl::Now();
  if (remaining <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(Endpoint(options_), ": deadline exceeded before query"));
  }
  // MariaDB aborts the statement itself when the caller's time is up.
  const std::string bounded = absl::StrFormat("SET STATEMENT max_statement_time=%.3f FOR %s",
                                              std::max(absl::ToDoubleSeconds(remaining), 0.001), sql);
  metrics_->Add(Counter::mysql_queries_total);
  const absl::Time sent = absl::Now();
  try {
    std::unique_ptr<sql::Statement> statement(lease->get().createStatement());
    auto result = run(*statement, bounded);
    operations_.Record(FirstKeyword(sql), absl::Now() - sent, /*failed=*/false);
    return result;
  } catch (const sql::SQLException& e) {
    // The connection's state is unknown after a failure: never reuse it.
    lease.MarkBroken();
    metrics_->Add(Counter::mysql_errors_total);
    operations_.Record(FirstKeyword(sql), absl::Now() - sent, /*failed=*/true);
    return ToStatus(e, options_, deadline);
  }
}

absl::Status MySqlTier::EnsureSchema(absl::Time deadline) {
  const std::string ddl =
      absl::StrCat("CREATE TABLE IF NOT EXISTS ", type_.table,
                   " (id VARBINARY(255) NOT NULL PRIMARY KEY, payload MEDIUMBLOB NOT NULL, version BIGINT NOT NULL,"
                   " updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB");
  auto run = [](sql::Statement& statement, const std::string& text) {
    statement.execute(text);
    return true;
  };
  RETURN_IF_ERROR(Execute<bool>(ddl, deadline, run).status());
  return Execute<bool>(absl::StrCat("CREATE TABLE IF NOT EXISTS ", type_.demotion_fence_table,
                                    " (name VARBINARY(255) NOT NULL PRIMARY KEY, token BIGINT NOT NULL) ENGINE=InnoDB"),
                       deadline, run)
      .status();
}

absl::Status MySqlTier::CheckSchema(absl::Time deadline) {
  // Each statement is a no-op that MariaDB still checks fully: the table
  // must exist and the account must hold the privilege (a SELECT with no
  // row; an UPDATE, a DELETE and an INSERT ... SELECT touching none). Only
  // the two errors that mean "not migrated" and "not granted" are answered
  // here; anything else is the usual status.
  struct Outcome {
    int error = 0;
    std::string text;
  };
  for (const auto& [table, column] : {std::pair{type_.table, "version"}, std::pair{type_.demotion_fence_table, "token"}}) {
    for (const std::string& sql :
         {absl::StrCat("SELECT * FROM ", table, " LIMIT 0"),
          absl::StrCat("UPDATE ", table, " SET ", column, " = ", column, " WHERE 1 = 0"),
          absl::StrCat("DELETE FROM ", table, " WHERE 1 = 0"),
          absl::StrCat("INSERT INTO ", table, " SELECT * FROM ", table, " WHERE 1 = 0")}) {
      ASSIGN_OR_RETURN(Outcome outcome,
                       Execute<Outcome>(sql, deadline, [](sql::Statement& statement, const std::string& text) {
                         try {
                           // A SELECT's (empty) result must be read before
                           // the connection takes the next statement.
                           if (statement.execute(text)) std::unique_ptr<sql::ResultSet>(statement.getResultSet());
                           return Outcome{};
                         } catch (const sql::SQLException& e) {
                           // 1146 ER_NO_SUCH_TABLE; 1142 ER_TABLEACCESS_DENIED_ERROR,
                           // 1143 ER_COLUMNACCESS_DENIED_ERROR.
                           const int code = e.getErrorCode();
                           if (code != 1146 && code != 1142 && code != 1143) throw;
                           return Outcome{e.getErrorCode(), e.what()};
                         }
                       }));
      if (outcome.error == 1146) {
        return absl::FailedPreconditionError(absl::StrCat(
            Endpoint(options_), " database ", options_.database, ": table ", table,
            " does not exist; run the schema migration first with an account that may create tables "
            "(catalog-server migrate; README, MySQL accounts)"));
      }
      if (outcome.error == 1142 || outcome.error == 1143) {
        return absl::PermissionDeniedError(absl::StrCat(
            Endpoint(options_), " user ", options_.user, " may not run \"", sql, "\": ", outcome.text,
            "; grant it SELECT, INSERT, UPDATE, DELETE on ", options_.database, " (deploy/mariadb/accounts.sql)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status MySqlTier::Control(ConnectionPool<MySqlConnection>::Lease& lease, const char* sql) {
  metrics_->Add(Counter::mysql_queries_total);
  const absl::Time sent = absl::Now();
  try {
    std::unique_ptr<sql::Statement> statement(lease->get().createStatement());
    statement->execute(sql);
    operations_.Record(FirstKeyword(sql), absl::Now() - sent, /*failed=*/false);
    return absl::OkStatus();
  } catch (const sql::SQLException& e) {
    lease.MarkBroken();  // Closing it rolls back whatever was open.
    metrics_->Add(Counter::mysql_errors_total);
    operations_.Record(FirstKeyword(sql), absl::Now() - sent, /*failed=*/true);
    return ToStatus(e, options_, absl::InfiniteFuture());
  }
}

absl::Status MySqlTier::ClaimFence(ConnectionPool<MySqlConnection>::Lease& lease, int64_t fencing_token,
                                   absl::Time deadline) {
  // In the open transaction: the row lock taken here is held until COMMIT,
  // so a holder with a newer token waits for this transaction to end, and
  // this one sees the newer token if that holder got here first.
  const std::string name = Hex(type_.table);
  RETURN_IF_ERROR(RunOn(lease,
                        absl::StrCat("INSERT INTO ", type_.demotion_fence_table, " (name, token) VALUES (", name, ",",
                                     fencing_token, ") ON DUPLICATE KEY UPDATE token = GREATEST(token, VALUES(token))"),
                        deadline, [](sql::Statement& statement, const std::string& text) {
                          return statement.executeUpdate(text);
                        })
                      .status());
  ASSIGN_OR_RETURN(const int64_t current,
                   RunOn(lease,
                         absl::StrCat("SELECT token FROM ", type_.demotion_fence_table, " WHERE name = ", name),
                         deadline, [](sql::Statement& statement, const std::string& text) -> int64_t {
                           std::unique_ptr<sql::ResultSet> result(statement.executeQuery(text));
                           return result->next() ? result->getInt64(1) : 0;
                         }));
  if (current == fencing_token) return absl::OkStatus();
  metrics_->Add(Counter::demote_fenced_total);
  absl::Status fenced = absl::FailedPreconditionError(absl::StrCat(
      Endpoint(options_), ": demotion fencing token ", fencing_token, " is older than ", current,
      ": another instance took the demotion lock; nothing was written"));
  // The newest token, for a lock whose counter fell behind (ColdTier).
  fenced.SetPayload(kFenceTokenPayload, absl::Cord(absl::StrCat(current)));
  return fenced;  // The caller rolls back.
}

absl::StatusOr<absl::flat_hash_map<std::string, ColdRecord>> MySqlTier::SelectRows(
    ConnectionPool<MySqlConnection>::Lease& lease, absl::Span<const std::string> ids, absl::Time deadline) {
  std::string sql = absl::StrCat("SELECT id, payload, version FROM ", type_.table, " WHERE id IN (");
  for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&sql, i == 0 ? "" : ",", Hex(ids[i]));
  sql += ")";
  return RunOn(lease, sql, deadline, [](sql::Statement& statement, const std::string& text) {
    std::unique_ptr<sql::ResultSet> result(statement.executeQuery(text));
    absl::flat_hash_map<std::string, ColdRecord> by_id;
    while (result->next()) {
      by_id[result->getString(1).asStdString()] = ColdRecord{result->getString(2).asStdString(), result->getInt64(3)};
    }
    return by_id;
  });
}

absl::StatusOr<std::vector<std::optional<ColdRecord>>> MySqlTier::MultiGet(absl::Span<const std::string> ids,
                                                                           absl::Time deadline) {
  std::vector<std::optional<ColdRecord>> records(ids.size());
  if (ids.empty()) return records;
  absl::StatusOr<ConnectionPool<MySqlConnection>::Lease> lease = pool_.Acquire(deadline);
  if (!lease.ok()) {
    metrics_->Add(Counter::mysql_errors_total);
    return lease.status();
  }
  absl::StatusOr<absl::flat_hash_map<std::string, ColdRecord>> rows = SelectRows(*lease, ids, deadline);
  if (!rows.ok()) return rows.status();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = rows->find(ids[i]);
    if (it != rows->end()) records[i] = it->second;
  }
  return records;
}

// One INSERT ... ON DUPLICATE KEY UPDATE per run of records that fits the
// connection's max_allowed_packet (a statement over it would make MariaDB
// drop the connection, "server has gone away", error 2006, and fail
// forever), then one SELECT of the rows to tell, per record, whether MySQL
// holds exactly it now.
absl::StatusOr<std::vector<bool>> MySqlTier::PutIfNewer(absl::Span<const ColdWrite> records, absl::Time deadline,
                                                        int64_t fencing_token) {
  if (records.empty()) return std::vector<bool>();
  absl::StatusOr<ConnectionPool<MySqlConnection>::Lease> lease = pool_.Acquire(deadline);
  if (!lease.ok()) {
    metrics_->Add(Counter::mysql_errors_total);
    return lease.status();
  }
  const int64_t max_packet = (*lease)->max_packet_bytes();
  for (const ColdWrite& record : records) {
    if (static_cast<int64_t>(record.id.size() + record.payload.size()) > MaxRecordBytesFor(max_packet)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Endpoint(options_), ": record \"", record.id, "\" (", record.payload.size(),
                       " bytes) does not fit one statement under max_allowed_packet ", max_packet,
                       " (hex doubles it); raise max_allowed_packet on the server to at least ",
                       2 * (record.id.size() + record.payload.size()) + kStatementOverhead + kRowOverhead));
    }
  }
  // A connection must never go back to the pool inside a transaction (the
  // next user's statements would run in it, uncommitted, holding the fence
  // row's lock): unless COMMIT succeeded, it is closed, which rolls back.
  bool in_transaction = false;
  absl::Cleanup close_open_transaction = [&] {
    if (in_transaction) lease->MarkBroken();
  };
  if (fencing_token > 0) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(Endpoint(options_), ": deadline exceeded before query"));
    }
    in_transaction = true;
    RETURN_IF_ERROR(Control(*lease, "START TRANSACTION"));
    if (absl::Status claimed = ClaimFence(*lease, fencing_token, deadline); !claimed.ok()) {
      // Refused (a normal event): roll back and keep the connection; close
      // it only if that fails (closing retires the pool's idle ones too).
      if (absl::IsFailedPrecondition(claimed) && Control(*lease, "ROLLBACK").ok()) in_transaction = false;
      return claimed;
    }
  }
  const std::string head = absl::StrCat("INSERT INTO ", type_.table, " (id, payload, version, updated_at) VALUES ");
  // Assignments run left to right and see earlier ones: version goes last
  // so the comparisons above it still read the stored version.
  constexpr absl::string_view kTail =
      " ON DUPLICATE KEY UPDATE"
      " payload = IF(VALUES(version) > version, VALUES(payload), payload),"
      " updated_at = IF(VALUES(version) > version, VALUES(updated_at), updated_at),"
      " version = GREATEST(version, VALUES(version))";
  size_t begin = 0;
  while (begin < records.size()) {
    std::string sql = head;
    int64_t bytes = kStatementOverhead;
    size_t end = begin;
    while (end < records.size() && (end == begin || bytes + RowBytes(records[end]) <= max_packet)) {
      bytes += RowBytes(records[end]);
      absl::StrAppend(&sql, end == begin ? "" : ",", "(", Hex(records[end].id), ",", Hex(records[end].payload), ",",
                      records[end].version, ",NOW(6))");
      ++end;
    }
    sql.append(kTail.data(), kTail.size());
    absl::Status status = RunOn(*lease, sql, deadline, [](sql::Statement& statement, const std::string& text) {
                            return statement.executeUpdate(text);
                          }).status();
    if (!status.ok()) return status;  // A failed statement closed the connection: rolled back.
    begin = end;
  }
  if (fencing_token > 0) {
    RETURN_IF_ERROR(Control(*lease, "COMMIT"));
    in_transaction = false;
  }
  // What each row holds now. The payloads come back in full: "holds exactly
  // this record" must not rest on a hash.
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const ColdWrite& record : records) ids.push_back(record.id);
  absl::StatusOr<absl::flat_hash_map<std::string, ColdRecord>> rows = SelectRows(*lease, ids, deadline);
  if (!rows.ok()) return rows.status();
  std::vector<bool> held(records.size(), false);
  for (size_t i = 0; i < records.size(); ++i) {
    auto it = rows->find(records[i].id);
    held[i] = it != rows->end() && it->second.version == records[i].version && it->second.payload == records[i].payload;
  }
  return held;
}

absl::StatusOr<int64_t> MySqlTier::MaxRecordBytes(absl::Time deadline) {
  if (max_packet_bytes_.load() == 0) {
    // No connection made yet: make one (the factory records its limit).
    absl::StatusOr<ConnectionPool<MySqlConnection>::Lease> lease = pool_.Acquire(deadline);
    if (!lease.ok()) return lease.status();
  }
  return MaxRecordBytesFor(max_packet_bytes_.load());
}

}  // namespace catalog::storage

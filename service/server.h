// CatalogServer: builds the whole service from a Config (pools, tiers,
// store, core, gRPC services with reflection and health) and runs it.
//
// Ownership: the server owns everything it builds; destroying it after
// Shutdown() releases all connections.
// Thread-safety: Shutdown() may be called from any thread, once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "service/config.h"
#include "service/logger.h"

namespace catalog::service {

class CatalogServer {
 public:
  // Connects to MySQL and checks the schema is there and usable with the
  // configured account (it creates nothing: see Migrate), then listens.
  // Errors: a precise message for an unreachable MySQL, a missing table
  // (FAILED_PRECONDITION naming the migration step), a missing privilege
  // (PERMISSION_DENIED) or a port that cannot be bound.
  static absl::StatusOr<std::unique_ptr<CatalogServer>> Start(const Config& config);

  // The schema migration step (`catalog-server migrate`): creates every
  // record type's tables in its MySQL database (from the same options or
  // topology file as Start) if they do not exist, and returns a line per
  // record type. It connects as migrate_mysql_user (an account that may
  // create tables) to every database; the serving account needs only
  // SELECT, INSERT, UPDATE, DELETE.
  static absl::StatusOr<std::string> Migrate(const Config& config);
  ~CatalogServer();

  // Reports NOT_SERVING from now on (gRPC health, GET /ready) while still
  // serving every call: the first step of a drain.
  void BeginDrain();

  // Stops accepting calls, lets in-flight ones finish until `grace` has
  // passed (then cancels them), and returns when all handlers are done.
  void Shutdown(absl::Duration grace);

  // The bound port (useful with listen_address "127.0.0.1:0").
  int port() const;
  // The admin plane's bound port; 0 without admin_listen_address.
  int admin_port() const;

  // A line on the server channel of the server's log (start, drain, stop).
  void Log(LogLevel level, absl::string_view message) const;

  // Everything the server is made of (server.cc only).
  struct Parts;

 private:
  explicit CatalogServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace catalog::service

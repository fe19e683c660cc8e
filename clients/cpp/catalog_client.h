// CatalogClient: the C++ client library for catalog.v1.CatalogService.
//
// - Every call has a deadline (ClientOptions::timeout unless the caller
//   passes one).
// - Reads (GetProduct, BatchGetProducts) are retried on UNAVAILABLE by gRPC
//   itself, through the channel's service config, with exponential backoff.
//   Writes are not retried: a write whose reply was lost may have been
//   applied (catalog.v2's request ids make retried writes safe).
// - BatchGetProducts accepts any number of ids: lists longer than the
//   server's limit are split into batches sent in parallel, and the results
//   are merged in request order.
// - One error type: absl::Status, carrying the gRPC code and the server's
//   message. A missing product is a value (nullopt / missing_ids).
//
// Thread-safety: a CatalogClient may be shared by any number of threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "catalog/v1/catalog.grpc.pb.h"

namespace catalog::client {

struct ClientOptions {
  // host:port of catalog-server.
  std::string target = "127.0.0.1:50051";
  // Deadline of a call that names none (a split batch shares one). Default 2 s.
  absl::Duration timeout = absl::Seconds(2);
  // The server's max_batch_size: longer id lists are split. Default 1000.
  int max_batch_size = 1000;
  // Batches of one split call in flight at once. Default 4.
  int max_parallel_batches = 4;
  // Attempts of a read on UNAVAILABLE (first try included), and the backoff
  // between them (doubling, with gRPC's jitter). Defaults 4, 50 ms, 1 s.
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
};

struct BatchResult {
  std::vector<catalog::v1::Product> products;  // In request order.
  std::vector<std::string> missing_ids;        // In request order.
};

class CatalogClient {
 public:
  // Opens a channel to options.target with the retry service config.
  explicit CatalogClient(ClientOptions options);

  absl::StatusOr<std::optional<catalog::v1::Product>> GetProduct(const std::string& id);
  absl::StatusOr<BatchResult> BatchGetProducts(absl::Span<const std::string> ids);
  // All or nothing; returns the stored products (new version, update_time).
  absl::StatusOr<std::vector<catalog::v1::Product>> UpsertProducts(absl::Span<const catalog::v1::Product> products);
  // Returns how many existed.
  absl::StatusOr<int64_t> DeleteProducts(absl::Span<const std::string> ids);

  // The service config the channel is created with (JSON).
  static std::string ServiceConfig(const ClientOptions& options);

 private:
  void SetDeadline(grpc::ClientContext& context) const;

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<catalog::v1::CatalogService::Stub> stub_;
};

}  // namespace catalog::client

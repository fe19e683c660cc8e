// CatalogCore: the catalog's business rules, shared by every API version's
// adapter (catalog.v1 now, catalog.v2 later). It validates input, stamps
// versions and update times, and keeps records in a TieredStore; it knows
// nothing of Redis or MySQL.
//
// Errors: INVALID_ARGUMENT naming the field and index; ABORTED for a version
// mismatch (nothing written); UNAVAILABLE / DEADLINE_EXCEEDED from storage.
// A missing product is a value (nullopt), never an error.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/v1/catalog.pb.h"
#include "storage/request_log.h"
#include "storage/tiered_store.h"

namespace catalog::service {

struct ProductPage {
  std::vector<catalog::v1::Product> products;  // In id order.
  std::string next_page_token;                 // Empty on the last page.
};

struct CoreOptions {
  // Most ids or products in one call. Default 1000.
  int64_t max_batch_size = 1000;
};

class CatalogCore {
 public:
  // How products are stored: key "product:<id>", table `products`, version
  // in catalog.v1.Product field 9.
  static const storage::RecordType& ProductRecordType();

  // Does not take ownership; all pointers must outlive the core.
  CatalogCore(storage::TieredStore* store, storage::RequestLog* request_log, const storage::Clock* clock,
              storage::Metrics* metrics, CoreOptions options);

  // Stored encodings (catalog.v1.Product wire format) aligned with `ids`;
  // nullopt where no product exists.
  absl::StatusOr<std::vector<storage::MaybeValue>> BatchGet(absl::Span<const std::string> ids, absl::Time deadline);

  absl::StatusOr<std::optional<catalog::v1::Product>> Get(const std::string& id, absl::Time deadline);

  // Stores all products or none; returns them as stored (version, time).
  absl::StatusOr<std::vector<catalog::v1::Product>> Upsert(absl::Span<const catalog::v1::Product* const> products,
                                                           absl::Time deadline);

  // Upsert applied at most once per `request_id` (AIP-155): a retry with the
  // same id and the same products returns the first call's result without
  // writing; the same id with other products is INVALID_ARGUMENT; a retry
  // while the first call still runs is ABORTED (retry later). A call that
  // fails is forgotten, so its retry is applied.
  absl::StatusOr<std::vector<catalog::v1::Product>> UpsertOnce(const std::string& request_id,
                                                               absl::Span<const catalog::v1::Product* const> products,
                                                               absl::Time deadline);

  // The products of one category in id order, a page at a time (AIP-158).
  // page_size 0 means 50; above max_batch_size it is lowered to it. The
  // token is opaque and only valid for the same category.
  absl::StatusOr<ProductPage> List(const std::string& category_id, int32_t page_size, const std::string& page_token,
                                   absl::Time deadline);

  // Returns how many of `ids` existed.
  absl::StatusOr<int64_t> Delete(absl::Span<const std::string> ids, absl::Time deadline);

  absl::StatusOr<storage::DemoteResult> Demote(int64_t idle_seconds, int64_t limit, absl::Time deadline);

 private:
  storage::TieredStore* const store_;
  storage::RequestLog* const request_log_;
  const storage::Clock* const clock_;
  storage::Metrics* const metrics_;
  const CoreOptions options_;
};

}  // namespace catalog::service

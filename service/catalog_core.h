// CatalogCore: the catalog's business rules, shared by every API version's
// adapter (catalog.v1 now, catalog.v2 later). It validates input, stamps
// versions and update times, and keeps records in a TieredStore; it knows
// nothing of Redis or MySQL.
//
// Errors: INVALID_ARGUMENT naming the field and index; ABORTED for a version
// mismatch (nothing written); RESOURCE_EXHAUSTED when a read's answer would
// exceed max_response_bytes or Redis is full; UNAVAILABLE /
// DEADLINE_EXCEEDED from storage. A missing product is a value (nullopt),
// never an error.
//
// Outcome of a failed write: INVALID_ARGUMENT, ABORTED and
// RESOURCE_EXHAUSTED mean nothing was written. UNAVAILABLE and
// DEADLINE_EXCEEDED may come after Redis applied the write (the reply was
// lost or came too late): the write may or may not have happened. A retry
// with the same request_id (UpsertOnce) is then answered exactly.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/functional/function_ref.h"
#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "storage/tiering/tiered_store.h"

namespace catalog::service {

struct ProductPage {
  std::vector<catalog::v1::Product> products;  // In id order.
  std::string next_page_token;                 // Empty on the last page.
};

struct CoreOptions {
  // Most ids or products in one call. Default 1000.
  int64_t max_batch_size = 1000;
  // Largest stored product encoding, unknown fields included. Default 64 KiB.
  int64_t max_record_bytes = 64 * 1024;
  // Largest answer (the server's send limit and a default client's receive
  // limit). Writes whose echo would exceed it are refused before anything
  // is written; reads that would exceed it fail; list pages end early.
  // Default 4 MiB.
  int64_t max_response_bytes = 4 * 1024 * 1024;
  // Demotion runs only under the demotion lock of the Redis deployment
  // (one instance at a time; storage/SAFETY.md, "Demotion lock"). This
  // instance's name in the lock (default: host:pid), and how long a holding
  // lasts without renewal (renewed before every page). Default 30 s.
  std::string demotion_holder;
  absl::Duration demotion_lock_ttl = absl::Seconds(30);
};

class CatalogCore {
 public:
  // Does not take ownership; all pointers must outlive the core. `offers`
  // (the Offer records) and `views` (the product views' cache) may be null
  // where unused: those calls are then FAILED_PRECONDITION, and product
  // writes invalidate no views.
  CatalogCore(storage::TieredStore* store, const storage::Clock* clock, storage::Metrics* metrics, CoreOptions options,
              storage::TieredStore* offers = nullptr, storage::ViewTier* views = nullptr);

  // Stored encodings (catalog.v1.Product wire format) aligned with `ids`;
  // nullopt where no product exists.
  absl::StatusOr<std::vector<storage::MaybeValue>> BatchGet(absl::Span<const std::string> ids, absl::Time deadline);

  // BatchGet without blocking the calling thread (callback handlers):
  // `done` runs exactly once, on the thread that got Redis's reply or on the
  // store's executor, with the ids and what BatchGet would return. It must
  // not block.
  // `from` kReplicaOk: the caller accepts values older than acknowledged
  // writes (catalog.v2 READ_CONSISTENCY_REPLICA_OK; TieredStore::ReadAsync).
  void BatchGetAsync(std::shared_ptr<const storage::IdBatch> ids, absl::Time deadline,
                     storage::TieredStore::ReadDone done,
                     storage::TieredStore::ReadFrom from = storage::TieredStore::ReadFrom::kMaster);

  absl::StatusOr<std::optional<catalog::v1::Product>> Get(const std::string& id, absl::Time deadline);

  // One product's stored encoding without blocking (callback handlers):
  // `done` runs once with it, nullopt if none, or the error Get would give
  // (NOT_FOUND is the adapter's to say). Same threads as BatchGetAsync.
  using GetDone = std::function<void(absl::StatusOr<storage::ValueView> value)>;
  void GetAsync(std::string id, absl::Time deadline, GetDone done,
                storage::TieredStore::ReadFrom from = storage::TieredStore::ReadFrom::kMaster);

  // Stores all products or none; returns them as stored (version, time).
  absl::StatusOr<std::vector<catalog::v1::Product>> Upsert(absl::Span<const catalog::v1::Product* const> products,
                                                           absl::Time deadline);

  // Upsert applied at most once per `request_id` (AIP-155): a retry with the
  // same id and the same products returns the first call's result without
  // writing a product again, also when the first call's reply was lost or it
  // timed out after Redis applied it, and also while both run at once (the
  // one that loses may have added category index entries, which are hints);
  // the same id with other products is INVALID_ARGUMENT. The record is written by the
  // same atomic step as the products and kept for request_ttl (24 h), never
  // evicted. A call that wrote nothing is not recorded, so its retry is
  // applied.
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

  // Offers: creates or replaces them all or nothing (stamped with version
  // and update_time, as products), deletes them (how many existed), reads
  // them (nullopt where absent). An offer write invalidates the cached views
  // of its product before it returns. A non-empty `request_id` makes the
  // upsert apply at most once, as UpsertOnce (the offers' own request log).
  absl::StatusOr<std::vector<catalog::v2::Offer>> UpsertOffers(absl::Span<const catalog::v2::Offer* const> offers,
                                                               absl::Time deadline,
                                                               const std::string& request_id = "");
  absl::StatusOr<int64_t> DeleteOffers(absl::Span<const catalog::v2::OfferKey* const> keys, absl::Time deadline);
  absl::StatusOr<std::vector<std::optional<catalog::v2::Offer>>> BatchGetOffers(
      absl::Span<const catalog::v2::OfferKey* const> keys, absl::Time deadline);

  // catalog.v2.ProductView encodings aligned with `product_ids` (the
  // product and its offer in `market`); nullopt where no product exists.
  // From the view cache where it holds them; the others assembled from
  // Redis and MySQL (not L1) and cached if no write invalidated them
  // meanwhile (storage/SAFETY.md, "View cache").
  absl::StatusOr<std::vector<storage::MaybeValue>> BatchGetProductViews(absl::Span<const std::string> product_ids,
                                                                       const std::string& market,
                                                                       absl::Time deadline);

  // See TieredStore::Demote; under the demotion lock of `record_type`
  // ("products" or "offers": each has its own lock and fence row). FAILED_PRECONDITION
  // naming the holder when another instance holds it; ABORTED when this
  // instance loses it mid-run (its MySQL writes are fenced from then on).
  absl::StatusOr<storage::DemoteResult> Demote(int64_t idle_seconds, int64_t limit, absl::Time deadline,
                                               storage::CancelCheck cancelled,
                                               const std::string& record_type = "products");

 private:
  // Runs `write`, then (whatever its outcome: a failed write may have been
  // applied) invalidates the cached views of `product_ids`. A write that
  // succeeded while the invalidation failed is UNAVAILABLE: its views might
  // be stale, so it is not acknowledged.
  template <typename T>
  absl::StatusOr<T> InvalidatingViews(absl::Span<const std::string> product_ids, absl::Time deadline,
                                      absl::FunctionRef<absl::StatusOr<T>()> write);
  absl::Status RequireOffers() const;
  // The views of product_ids[missing[k]] from Redis and MySQL (not L1),
  // into `cached`, and cached in turn where their fences still hold.
  absl::Status AssembleViews(absl::Span<const std::string> product_ids, const std::string& market,
                             absl::Span<const size_t> missing, storage::ViewLookup* cached, absl::Time deadline);

  struct RequestIdentity {
    std::string id;
    std::string fingerprint;
  };
  struct UpsertOutcome {
    std::vector<catalog::v1::Product> stored;
    std::optional<std::string> recorded;  // The request was applied already.
  };
  // Index entries, then the products (with `request` recorded atomically).
  absl::StatusOr<UpsertOutcome> Apply(absl::Span<const catalog::v1::Product* const> products,
                                      const RequestIdentity* request, absl::Time deadline);
  absl::StatusOr<std::vector<catalog::v1::Product>> Replay(const RequestIdentity& request, const std::string& entry);
  // The response recorded under `request` (its fingerprint must match).
  template <typename Response>
  absl::StatusOr<Response> Recorded(const RequestIdentity& request, const std::string& entry);
  // Bad input of a write, before anything is stored.
  absl::Status ValidateWrite(absl::Span<const catalog::v1::Product* const> products) const;
  // RESOURCE_EXHAUSTED if `values` for `ids` would not fit one answer.
  absl::Status CheckResponseSize(absl::Span<const absl::string_view> ids,
                                 absl::Span<const storage::ValueView> values) const;

  storage::TieredStore* const store_;
  storage::TieredStore* const offers_;
  storage::ViewTier* const views_;
  const storage::Clock* const clock_;
  storage::Metrics* const metrics_;
  const CoreOptions options_;
  std::atomic<int64_t> demotion_runs_{0};
  // The newest fencing token MySQL reported (a floor for new tokens).
  std::atomic<int64_t> token_floor_{0};
};

}  // namespace catalog::service

// Input validation for catalog requests. Every failure is INVALID_ARGUMENT
// whose message starts with the field path, e.g. `products[2].price.
// currency_code: "eur" is not ...`, so a frontend engineer sees at once
// which field of which item to fix.
//
// Thread-safety: plain functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"

namespace catalog::service {

inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxSkuBytes = 64;
inline constexpr size_t kMaxTitleBytes = 256;
inline constexpr size_t kMaxDescriptionBytes = 16384;
inline constexpr int kMaxAttributes = 64;
inline constexpr size_t kMaxAttributeKeyBytes = 64;
inline constexpr size_t kMaxAttributeValueBytes = 1024;
inline constexpr int kMaxCategoryIds = 32;
inline constexpr size_t kMaxMarketBytes = 16;

// `field` is the path to report, e.g. "id" or "ids[3]".
absl::Status ValidateId(absl::string_view id, absl::string_view field);

// 1..max_batch distinct valid ids, reported as `field`[i].
absl::Status ValidateIdBatch(absl::Span<const absl::string_view> ids, absl::string_view field, int64_t max_batch);
absl::Status ValidateIdBatch(absl::Span<const std::string> ids, absl::string_view field, int64_t max_batch);

// One product's fields, reported under `field`, e.g. "products[2]".
absl::Status ValidateProduct(const catalog::v1::Product& product, absl::string_view field);

// 1..max_batch valid products with distinct ids, reported as `field`[i].
absl::Status ValidateProductBatch(absl::Span<const catalog::v1::Product* const> products, absl::string_view field,
                                  int64_t max_batch);

// 1..16 characters [A-Za-z0-9_-], reported as `field`.
absl::Status ValidateMarket(absl::string_view market, absl::string_view field);

// One offer's fields, reported under `field`, e.g. "offers[2]".
absl::Status ValidateOffer(const catalog::v2::Offer& offer, absl::string_view field);

// 1..max_batch valid offers with distinct keys.
absl::Status ValidateOfferBatch(absl::Span<const catalog::v2::Offer* const> offers, absl::string_view field,
                                int64_t max_batch);

// 1..max_batch valid, distinct keys.
absl::Status ValidateOfferKeys(absl::Span<const catalog::v2::OfferKey* const> keys, absl::string_view field,
                               int64_t max_batch);

}  // namespace catalog::service

// The record types catalog-service stores, and where each lives: Redis key
// prefixes and MySQL table names are storage's business, so they are named
// here and nowhere in the service core.
//
// Thread-safety: the returned objects are immutable and live forever.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "storage/record_codec.h"

namespace catalog::storage {

// Products: key "product:<id>", table `products`, version in
// catalog.v1.Product field 9 (the stored encoding is a v1 Product).
const RecordType& ProductRecordType();

// Offers (a product in one market): record id OfferRecordId(product id,
// market), key "offer:<record id>", table `offers`, version in
// catalog.v2.Offer field 6 (the stored encoding is a v2 Offer).
const RecordType& OfferRecordType();

// "<product id>/<market>": '/' is in neither (validation keeps it so).
std::string OfferRecordId(absl::string_view product_id, absl::string_view market);

}  // namespace catalog::storage

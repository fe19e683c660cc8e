#include "storage/record_types.h"

#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"

namespace catalog::storage {

const RecordType& ProductRecordType() {
  static const RecordType* const type = new RecordType{"product:",
                                                       "products",
                                                       catalog::v1::Product::kVersionFieldNumber,
                                                       "product-index:",
                                                       "product-fence:",
                                                       "request:",
                                                       "request-expiry",
                                                       "product-demotion-lock",
                                                       "product-demotion-token",
                                                       "demotion_fences",
                                                       "product-view:",
                                                       "product-view-fence:",
                                                       "product-txn:"};
  return *type;
}

const RecordType& OfferRecordType() {
  static const RecordType* const type = new RecordType{"offer:",
                                                       "offers",
                                                       catalog::v2::Offer::kVersionFieldNumber,
                                                       "offer-index:",
                                                       "offer-fence:",
                                                       "offer-request:",
                                                       "offer-request-expiry",
                                                       "offer-demotion-lock",
                                                       "offer-demotion-token",
                                                       "demotion_fences",
                                                       "",
                                                       "",
                                                       "offer-txn:"};
  return *type;
}

std::string OfferRecordId(absl::string_view product_id, absl::string_view market) {
  return absl::StrCat(product_id, "/", market);
}

}  // namespace catalog::storage

#include "storage/record_types.h"

#include "catalog/v1/catalog.pb.h"

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
                                                       "demotion_fences"};
  return *type;
}

}  // namespace catalog::storage

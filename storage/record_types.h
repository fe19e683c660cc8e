// The record types catalog-service stores, and where each lives: Redis key
// prefixes and MySQL table names are storage's business, so they are named
// here and nowhere in the service core.
//
// Thread-safety: the returned objects are immutable and live forever.
#pragma once

#include "storage/record_codec.h"

namespace catalog::storage {

// Products: key "product:<id>", table `products`, version in
// catalog.v1.Product field 9 (the stored encoding is a v1 Product).
const RecordType& ProductRecordType();

}  // namespace catalog::storage

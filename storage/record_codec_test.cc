#include "storage/record_codec.h"

#include <catch2/catch.hpp>

#include "catalog/v1/catalog.pb.h"

namespace catalog::storage {
namespace {

constexpr int kVersionField = catalog::v1::Product::kVersionFieldNumber;

TEST_CASE("the version is read from a record without parsing it") {
  catalog::v1::Product p;
  p.set_id("a");
  p.set_title("title");
  (*p.mutable_attributes())["k"] = "v";
  p.set_version(123456789012);
  p.mutable_price()->set_amount_minor(5);
  DecodedValue d = DecodeStoredValue(p.SerializeAsString(), kVersionField);
  CHECK(d.kind == ValueKind::kRecord);
  CHECK(d.version == 123456789012);

  p.clear_version();
  d = DecodeStoredValue(p.SerializeAsString(), kVersionField);
  CHECK(d.kind == ValueKind::kRecord);
  CHECK(d.version == 0);
}

TEST_CASE("tombstones are told apart from records by their first byte") {
  const std::string t = EncodeTombstone(42);
  CHECK(IsTombstone(t));
  DecodedValue d = DecodeStoredValue(t, kVersionField);
  CHECK(d.kind == ValueKind::kTombstone);
  CHECK(d.version == 42);
  catalog::v1::Product p;
  p.set_id("x");
  CHECK_FALSE(IsTombstone(p.SerializeAsString()));
}

TEST_CASE("garbage is reported as corrupt") {
  CHECK(DecodeStoredValue(std::string("\x0a\x05", 2), kVersionField).kind == ValueKind::kCorrupt);
  CHECK(DecodeStoredValue(std::string("\0tombstone:xx", 13), kVersionField).kind == ValueKind::kCorrupt);
}

}  // namespace
}  // namespace catalog::storage

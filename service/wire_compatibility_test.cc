// catalog.v2 reuses v1's stored encoding: Product and Money/Price must keep
// the same field numbers, types and cardinalities, or products written
// through one version would decode wrongly in the other.
#include <catch2/catch.hpp>

#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"

namespace {

using google::protobuf::Descriptor;

void RequireSameWire(const Descriptor* v1, const Descriptor* v2) {
  INFO(v1->full_name() << " vs " << v2->full_name());
  REQUIRE(v1->field_count() == v2->field_count());
  for (int i = 0; i < v1->field_count(); ++i) {
    const auto* a = v1->field(i);
    const auto* b = v2->FindFieldByNumber(a->number());
    INFO("field " << a->name());
    REQUIRE(b != nullptr);
    CHECK(a->name() == b->name());
    CHECK(a->type() == b->type());
    CHECK(a->is_repeated() == b->is_repeated());
    CHECK(a->is_map() == b->is_map());
  }
}

TEST_CASE("v1 and v2 products share one wire format") {
  RequireSameWire(catalog::v1::Product::descriptor(), catalog::v2::Product::descriptor());
  RequireSameWire(catalog::v1::Price::descriptor(), catalog::v2::Money::descriptor());

  catalog::v1::Product v1;
  v1.set_id("x");
  v1.mutable_price()->set_currency_code("EUR");
  v1.mutable_price()->set_amount_minor(1234);
  (*v1.mutable_attributes())["k"] = "v";
  v1.add_category_ids("c");
  v1.set_version(3);
  catalog::v2::Product v2;
  REQUIRE(v2.ParseFromString(v1.SerializeAsString()));
  CHECK(v2.price().amount_minor() == 1234);
  CHECK(v2.attributes().at("k") == "v");
  CHECK(v2.SerializeAsString() == v1.SerializeAsString());
}

}  // namespace

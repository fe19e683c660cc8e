#include "service/wire_mask.h"

#include <catch2/catch.hpp>

#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/util/field_mask_util.h"

namespace catalog::service {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;

catalog::v2::Product Full() {
  catalog::v2::Product p;
  p.set_id("p1");
  p.set_sku("SKU-1");
  p.set_title("Title");
  p.set_description("A description");
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(1999);
  p.set_stock_quantity(7);
  (*p.mutable_attributes())["color"] = "red";
  p.add_category_ids("shoes");
  p.add_category_ids("sale");
  p.set_version(3);
  p.mutable_update_time()->set_seconds(1700000000);
  p.mutable_update_time()->set_nanos(5);
  return p;
}

std::string Typed(const std::string& stored, const FieldMask& mask) {
  catalog::v2::Product p;
  REQUIRE(p.ParseFromString(stored));
  if (mask.paths_size() > 0) FieldMaskUtil::TrimMessage(mask, &p);
  return p.SerializeAsString();
}

TEST_CASE("a read_mask applied to the wire encoding gives the bytes of TrimMessage and serialization") {
  catalog::v2::Product no_price = Full();
  no_price.clear_price();
  catalog::v2::Product currency_only = Full();
  currency_only.mutable_price()->clear_amount_minor();
  catalog::v2::Product empty;
  const std::vector<std::string> stored = {Full().SerializeAsString(), no_price.SerializeAsString(),
                                           currency_only.SerializeAsString(), empty.SerializeAsString()};
  const std::vector<std::vector<std::string>> masks = {
      {},
      {"id"},
      {"title", "id"},
      {"price"},
      {"price.amount_minor"},
      {"price.amount_minor", "price"},
      {"price", "price.currency_code"},
      {"price.currency_code", "price.amount_minor", "stock_quantity"},
      {"update_time.nanos"},
      {"attributes", "category_ids", "version"},
      {"description", "update_time", "price.currency_code", "sku"},
  };
  for (const std::vector<std::string>& paths : masks) {
    FieldMask mask;
    for (const std::string& path : paths) mask.add_paths(path);
    const WireMask wire = WireMask::For(catalog::v2::Product::descriptor(), mask);
    for (size_t i = 0; i < stored.size(); ++i) {
      std::string out;
      INFO("mask " << mask.ShortDebugString() << ", product " << i);
      REQUIRE(wire.Apply(stored[i], &out));
      CHECK(out == Typed(stored[i], mask));
    }
  }
}

TEST_CASE("a stored value that is not a message encoding is refused under a mask, and DATA_LOSS names the id") {
  FieldMask mask;
  mask.add_paths("title");
  const WireMask wire = WireMask::For(catalog::v2::Product::descriptor(), mask);
  std::string out;
  const std::string full = Full().SerializeAsString();
  CHECK_FALSE(wire.Apply(full.substr(0, full.size() - 3), &out));  // Truncated inside a field.
  CHECK_FALSE(wire.Apply(std::string("\x0b\x01", 2), &out));        // A group: not in these messages.
  CHECK_FALSE(wire.Apply(std::string("\xff\xff", 2), &out));        // A tag that never ends.
  const std::vector<absl::string_view> ids = {"bad"};
  const std::string truncated = full.substr(0, 5);
  const std::vector<std::optional<absl::string_view>> values = {absl::string_view(truncated)};
  absl::StatusOr<grpc::ByteBuffer> answer = EncodeV2BatchGet(ids, values, wire);
  CHECK(absl::IsDataLoss(answer.status()));
  CHECK(answer.status().message() == "stored product \"bad\" does not parse");
}

TEST_CASE("the v2 batch answer is the typed BatchGetProductsResponse, byte for byte") {
  FieldMask mask;
  mask.add_paths("price.currency_code");
  mask.add_paths("id");
  const std::string full = Full().SerializeAsString();
  const std::vector<absl::string_view> ids = {"p1", "nope", "p1"};
  const std::vector<std::optional<absl::string_view>> values = {absl::string_view(full), std::nullopt,
                                                                absl::string_view(full)};
  for (const FieldMask& m : {FieldMask(), mask}) {
    absl::StatusOr<grpc::ByteBuffer> answer =
        EncodeV2BatchGet(ids, values, WireMask::For(catalog::v2::Product::descriptor(), m));
    REQUIRE(answer.ok());
    std::vector<grpc::Slice> slices;
    REQUIRE(answer->Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    catalog::v2::BatchGetProductsResponse typed;
    for (size_t i = 0; i < ids.size(); ++i) {
      catalog::v2::ProductResult* r = typed.add_results();
      r->set_id(std::string(ids[i]));
      if (!values[i].has_value()) {
        r->mutable_not_found();
        continue;
      }
      REQUIRE(r->mutable_product()->ParseFromString(std::string(*values[i])));
      if (m.paths_size() > 0) FieldMaskUtil::TrimMessage(m, r->mutable_product());
    }
    CHECK(bytes == typed.SerializeAsString());
  }
}

}  // namespace
}  // namespace catalog::service

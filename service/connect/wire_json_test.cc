#include "service/connect/wire_json.h"

#include <catch2/catch.hpp>
#include <random>

#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"

namespace catalog::service {
namespace {

std::string Reference(const google::protobuf::Message& message) {
  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

// What WireJson writes for `wire` as `message`'s type, "(fallback)" if not covered.
std::string Fast(const WireJson& encoder, const google::protobuf::Message& message, const std::string& wire) {
  std::string out;
  return encoder.Write(message.GetDescriptor(), wire, &out) ? out : "(fallback)";
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 63));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 63));
    s += static_cast<char>(0x80 | (cp & 63));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 63));
    s += static_cast<char>(0x80 | ((cp >> 6) & 63));
    s += static_cast<char>(0x80 | (cp & 63));
  }
  return s;
}

catalog::v1::Product FullProduct(const std::string& title) {
  catalog::v1::Product p;
  p.set_id("p-1");
  p.set_sku("SKU-1");
  p.set_title(title);
  p.set_description("line\nnext \"quoted\" <b> & \\ tab\t");
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(-1999);
  p.set_stock_quantity(7);
  p.add_category_ids("shoes");
  p.add_category_ids("sale");
  p.set_version(3);
  p.mutable_update_time()->set_seconds(1764028654);
  p.mutable_update_time()->set_nanos(17724000);
  return p;
}

TEST_CASE("WireJson writes what MessageToJsonString writes, byte for byte", "[wire_json]") {
  WireJson encoder({catalog::v1::BatchGetProductsResponse::descriptor(), catalog::v1::Product::descriptor(),
                    catalog::v2::BatchGetProductsResponse::descriptor(),
                    catalog::v2::BatchGetOffersResponse::descriptor(),
                    catalog::v2::BatchGetProductViewsResponse::descriptor()});
  SECTION("products: every field, escapes, negative numbers, every timestamp precision") {
    for (int nanos : {0, 5000000, 17724000, 123456789, 999999999}) {
      catalog::v1::Product p = FullProduct("Café ☕ 👟");
      p.mutable_update_time()->set_nanos(nanos);
      CHECK(Fast(encoder, p, p.SerializeAsString()) == Reference(p));
    }
    catalog::v1::Product empty;
    CHECK(Fast(encoder, empty, "") == "{}");
    catalog::v1::Product zero_time;
    zero_time.mutable_update_time();  // Present, all defaults.
    CHECK(Fast(encoder, zero_time, zero_time.SerializeAsString()) == Reference(zero_time));
  }
  SECTION("every code point protobuf escapes, and its neighbours") {
    std::string all;
    for (uint32_t cp = 1; cp < 0x2100; ++cp) {
      if (cp < 0xd800 || cp > 0xdfff) all += Utf8(cp);
    }
    for (uint32_t cp : {0xfefeu, 0xfeffu, 0xff00u, 0xfff8u, 0xfff9u, 0xfffbu, 0xfffcu, 0x1d172u, 0x1d173u, 0x1d17au,
                        0x1d17bu, 0xe0000u, 0xe0001u, 0xe0002u, 0xe001fu, 0xe0020u, 0xe007fu, 0xe0080u, 0x10ffffu}) {
      all += Utf8(cp);
    }
    catalog::v1::Product p;
    p.set_title(all);
    CHECK(Fast(encoder, p, p.SerializeAsString()) == Reference(p));
  }
  SECTION("v2 oneofs, enums and views") {
    catalog::v2::BatchGetProductsResponse response;
    auto* found = response.add_results();
    found->set_id("a");
    found->mutable_product()->ParseFromString(FullProduct("T").SerializeAsString());
    response.add_results()->set_id("b");
    response.mutable_results(1)->mutable_not_found();
    CHECK(Fast(encoder, response, response.SerializeAsString()) == Reference(response));

    catalog::v2::BatchGetOffersResponse offers;
    auto* offer = offers.add_results()->mutable_offer();
    offer->set_product_id("p");
    offer->set_market("DE");
    offer->set_availability(catalog::v2::AVAILABILITY_IN_STOCK);
    auto* unknown_enum = offers.add_results()->mutable_offer();
    unknown_enum->set_product_id("q");
    unknown_enum->set_availability(static_cast<catalog::v2::Availability>(77));
    CHECK(Fast(encoder, offers, offers.SerializeAsString()) == Reference(offers));
  }
  SECTION("wire order, unknown fields and repeated defaults do not change the answer") {
    catalog::v1::Product p = FullProduct("T");
    // The same fields serialized in reverse number order, an unknown field
    // (number 99, varint) inside, an explicit default (stock_quantity 0)
    // before the real value.
    catalog::v1::Product a, b;
    a.set_version(3);
    a.mutable_update_time()->CopyFrom(p.update_time());
    b.set_id("p-1");
    b.set_title("T");
    std::string wire = a.SerializeAsString() + std::string("\x98\x06\x05", 3) + b.SerializeAsString();
    catalog::v1::Product parsed;
    REQUIRE(parsed.ParseFromString(wire));
    CHECK(Fast(encoder, parsed, wire) == Reference(parsed));
  }
  SECTION("not covered: answered by protobuf's own path") {
    catalog::v1::Product with_map = FullProduct("T");
    (*with_map.mutable_attributes())["colour"] = "red";
    CHECK(Fast(encoder, with_map, with_map.SerializeAsString()) == "(fallback)");
    catalog::v1::Product bad_utf8;
    bad_utf8.set_id("p");
    std::string wire = bad_utf8.SerializeAsString() + std::string("\x1a\x02\xff\xfe", 4);  // title: invalid UTF-8
    CHECK(Fast(encoder, bad_utf8, wire) == "(fallback)");
    // Two members of one oneof: protobuf keeps the last.
    catalog::v2::ProductResult two;
    two.mutable_not_found();
    std::string both = two.SerializeAsString();
    two.mutable_product()->set_id("x");
    both += two.SerializeAsString();
    CHECK(Fast(encoder, catalog::v2::ProductResult(), both) == "(fallback)");
  }
}

TEST_CASE("WireJson on random edits of real encodings: equal to protobuf's or not covered", "[wire_json]") {
  WireJson encoder({catalog::v1::Product::descriptor()});
  const std::string base = FullProduct("Café").SerializeAsString();
  std::mt19937 random(42);
  int covered = 0;
  google::protobuf::LogSilencer quiet;  // Parsing logs every invalid UTF-8 string it meets.
  for (int i = 0; i < 20000; ++i) {
    std::string wire = base;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) wire[random() % wire.size()] = static_cast<char>(random() % 256);
    catalog::v1::Product parsed;
    if (!parsed.ParseFromString(wire)) continue;
    std::string reference;
    if (!google::protobuf::util::MessageToJsonString(parsed, &reference).ok()) continue;
    std::string out;
    if (encoder.Write(catalog::v1::Product::descriptor(), wire, &out)) {
      ++covered;
      INFO(i);
      REQUIRE(out == reference);
    }
  }
  CHECK(covered > 1000);
}

}  // namespace
}  // namespace catalog::service

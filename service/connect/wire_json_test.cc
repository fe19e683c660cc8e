#include "service/connect/wire_json.h"

#include <catch2/catch.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

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
    // A map key given twice (protobuf keeps the last value): two
    // attributes entries {k: v1}, {k: v2}, nothing else; a different key
    // is covered.
    const std::string k_v1("\x3a\x07\x0a\x01k\x12\x02v1", 9);
    const std::string k_v2("\x3a\x07\x0a\x01k\x12\x02v2", 9);
    const std::string j_v2("\x3a\x07\x0a\x01j\x12\x02v2", 9);
    CHECK(Fast(encoder, catalog::v1::Product(), k_v1 + k_v2) == "(fallback)");
    CHECK(Fast(encoder, catalog::v1::Product(), k_v1 + j_v2) == R"({"attributes":{"k":"v1","j":"v2"}})");
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

// A message with a map of every key type, each with another value kind,
// built at run time (the catalog's protos have map<string, string> only).
struct MapsType {
  MapsType() {
    using google::protobuf::FieldDescriptorProto;
    google::protobuf::FileDescriptorProto file;
    file.set_name("maps_test.proto");
    file.set_package("mapstest");
    file.set_syntax("proto3");
    auto* colour = file.add_enum_type();
    colour->set_name("Colour");
    colour->add_value()->set_name("COLOUR_UNSPECIFIED");
    auto* red = colour->add_value();
    red->set_name("RED");
    red->set_number(1);
    auto* inner = file.add_message_type();
    inner->set_name("Inner");
    auto* name = inner->add_field();
    name->set_name("name");
    name->set_number(1);
    name->set_type(FieldDescriptorProto::TYPE_STRING);
    name->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
    auto* maps = file.add_message_type();
    maps->set_name("Maps");
    struct Map {
      const char* name;
      FieldDescriptorProto::Type key;
      FieldDescriptorProto::Type value;
      const char* value_type;
    };
    const Map kMaps[] = {
        {"ss", FieldDescriptorProto::TYPE_STRING, FieldDescriptorProto::TYPE_STRING, nullptr},
        {"i32", FieldDescriptorProto::TYPE_INT32, FieldDescriptorProto::TYPE_STRING, nullptr},
        {"i64", FieldDescriptorProto::TYPE_INT64, FieldDescriptorProto::TYPE_INT64, nullptr},
        {"u32", FieldDescriptorProto::TYPE_UINT32, FieldDescriptorProto::TYPE_BOOL, nullptr},
        {"u64", FieldDescriptorProto::TYPE_UINT64, FieldDescriptorProto::TYPE_BYTES, nullptr},
        {"s32", FieldDescriptorProto::TYPE_SINT32, FieldDescriptorProto::TYPE_ENUM, ".mapstest.Colour"},
        {"s64", FieldDescriptorProto::TYPE_SINT64, FieldDescriptorProto::TYPE_MESSAGE, ".mapstest.Inner"},
        {"f32", FieldDescriptorProto::TYPE_FIXED32, FieldDescriptorProto::TYPE_INT32, nullptr},
        {"f64", FieldDescriptorProto::TYPE_FIXED64, FieldDescriptorProto::TYPE_UINT64, nullptr},
        {"sf32", FieldDescriptorProto::TYPE_SFIXED32, FieldDescriptorProto::TYPE_SINT64, nullptr},
        {"sf64", FieldDescriptorProto::TYPE_SFIXED64, FieldDescriptorProto::TYPE_STRING, nullptr},
        {"b", FieldDescriptorProto::TYPE_BOOL, FieldDescriptorProto::TYPE_STRING, nullptr},
    };
    int number = 0;
    for (const Map& m : kMaps) {
      auto* entry = maps->add_nested_type();
      std::string entry_name = m.name;
      entry_name[0] = static_cast<char>(std::toupper(entry_name[0]));
      entry->set_name(entry_name + "Entry");
      entry->mutable_options()->set_map_entry(true);
      auto* key = entry->add_field();
      key->set_name("key");
      key->set_number(1);
      key->set_type(m.key);
      key->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
      auto* value = entry->add_field();
      value->set_name("value");
      value->set_number(2);
      value->set_type(m.value);
      value->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
      if (m.value_type != nullptr) value->set_type_name(m.value_type);
      auto* field = maps->add_field();
      field->set_name(m.name);
      field->set_number(++number);
      field->set_type(FieldDescriptorProto::TYPE_MESSAGE);
      field->set_label(FieldDescriptorProto::LABEL_REPEATED);
      field->set_type_name(".mapstest.Maps." + entry_name + "Entry");
    }
    REQUIRE(pool.BuildFile(file) != nullptr);
    type = pool.FindMessageTypeByName("mapstest.Maps");
    REQUIRE(type != nullptr);
  }
  // `json` parsed by protobuf into a Maps message.
  std::unique_ptr<google::protobuf::Message> Parse(const std::string& json) {
    std::unique_ptr<google::protobuf::Message> m(factory.GetPrototype(type)->New());
    INFO(json);
    REQUIRE(google::protobuf::util::JsonStringToMessage(json, m.get()).ok());
    return m;
  }
  google::protobuf::DescriptorPool pool;
  google::protobuf::DynamicMessageFactory factory{&pool};
  const google::protobuf::Descriptor* type = nullptr;
};

TEST_CASE("WireJson maps: every key type, values of every kind, the same object protobuf prints", "[wire_json]") {
  MapsType maps;
  WireJson encoder({maps.type});
  // One entry per map (and one map with none): byte for byte, key order
  // cannot differ.
  const std::string one =
      R"({"ss":{"k \"q\" <é>":"v\n"},"i32":{"-2147483648":"min"},"i64":{"-9223372036854775808":"-1"},)"
      R"("u32":{"4294967295":true},"u64":{"18446744073709551615":"AAEC"},"s32":{"-7":"RED"},)"
      R"("s64":{"-9":{"name":"inner"}},"f32":{"1":-5},"f64":{"2":"18446744073709551615"},)"
      R"("sf32":{"-3":"-4"},"sf64":{"-1":""},"b":{"true":"yes"}})";
  auto message = maps.Parse(one);
  std::string out;
  REQUIRE(encoder.Write(maps.type, message->SerializeAsString(), &out));
  CHECK(out == Reference(*message));
  // Defaults inside an entry (key 0, empty value) are printed.
  auto defaults = maps.Parse(R"({"i32":{"0":""},"b":{"false":""},"s32":{"0":"COLOUR_UNSPECIFIED"}})");
  out.clear();
  REQUIRE(encoder.Write(maps.type, defaults->SerializeAsString(), &out));
  CHECK(out == Reference(*defaults));
  // Several entries: protobuf prints them in its map's iteration order, we
  // in wire order; the objects are equal, which is what JSON means.
  auto many = maps.Parse(
      R"({"ss":{"a":"1","b":"2","c":"3"},"i64":{"1":"1","-1":"2"},"s64":{"1":{"name":"x"},"2":{}},)"
      R"("b":{"true":"t","false":"f"}})");
  out.clear();
  REQUIRE(encoder.Write(maps.type, many->SerializeAsString(), &out));
  auto back = maps.Parse(out);
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, *many));
  CHECK(out.size() == Reference(*many).size());
  // Declined, for protobuf's path: an entry without its value, a message
  // value given twice.
  const std::string no_value("\x0a\x03\x0a\x01k", 5);  // ss: {key: "k"}
  out.clear();
  CHECK(!encoder.Write(maps.type, no_value, &out));
  const std::string no_key("\x0a\x03\x12\x01v", 5);  // ss: {value: "v"}
  out.clear();
  CHECK(!encoder.Write(maps.type, no_key, &out));
  const std::string twice("\x3a\x0a\x08\x02\x12\x02\x0a\x00\x12\x02\x0a\x00", 12);  // s64: {1: {} {}}
  out.clear();
  CHECK(!encoder.Write(maps.type, twice, &out));
  // Bool keys 1 and 2 are both true: the same key twice.
  const std::string bools("\x62\x05\x08\x01\x12\x01" "a" "\x62\x05\x08\x02\x12\x01" "b", 14);  // b: {1: a} {2: b}
  out.clear();
  CHECK(!encoder.Write(maps.type, bools, &out));
  // Message values large enough go through a memo like any message.
  JsonMemo memo({});
  WireJson memoized({maps.type}, &memo);
  const std::string long_name(200, 'n');
  auto large = maps.Parse(absl::StrCat(R"({"s64":{"1":{"name":"a)", long_name, R"("},"2":{"name":"b)", long_name,
                                       R"("}}})"));
  const std::string large_wire = large->SerializeAsString();
  std::string first;
  for (int pass = 0; pass < 2; ++pass) {
    out.clear();
    WireJson::MemoUse use;
    REQUIRE(memoized.Write(maps.type, large_wire, &out, &use));
    CHECK(use.hits == (pass == 0 ? 0 : 2));
    CHECK(use.misses == (pass == 0 ? 2 : 0));
    if (pass == 0) first = out;
    CHECK(out == first);
  }
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*maps.Parse(out), *large));
  // One of each is covered, and prints what protobuf prints.
  const std::string one_bool = bools.substr(0, 7);
  auto parsed = maps.Parse("{}");
  REQUIRE(parsed->ParseFromString(one_bool));
  out.clear();
  REQUIRE(encoder.Write(maps.type, one_bool, &out));
  CHECK(out == Reference(*parsed));
}

TEST_CASE("WireJson on random edits of real encodings: equal to protobuf's or not covered", "[wire_json]") {
  WireJson encoder({catalog::v1::Product::descriptor()});
  catalog::v1::Product product = FullProduct("Café");
  (*product.mutable_attributes())["colour"] = "red";  // One entry: the same bytes as protobuf's.
  const std::string base = product.SerializeAsString();
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

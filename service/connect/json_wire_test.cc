#include "service/connect/json_wire.h"

#include <catch2/catch.hpp>
#include <random>

#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace catalog::service {
namespace {

using google::protobuf::Message;

// "fast" if JsonWire took `json` and yields what protobuf's parser yields,
// "fallback" if it left it to protobuf, "DIFFERENT" otherwise.
std::string Compare(const JsonWire& parser, const Message& prototype, const std::string& json) {
  std::string wire;
  const bool fast = parser.Parse(prototype.GetDescriptor(), json, &wire);
  if (!fast) return "fallback";
  std::unique_ptr<Message> reference(prototype.New());
  std::unique_ptr<Message> parsed(prototype.New());
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(json, reference.get(), options).ok()) return "DIFFERENT";
  if (!parsed->ParseFromString(wire)) return "DIFFERENT";
  return google::protobuf::util::MessageDifferencer::Equals(*parsed, *reference) ? "fast" : "DIFFERENT";
}

JsonWire Parser() {
  return JsonWire({catalog::v1::BatchGetProductsRequest::descriptor(), catalog::v1::GetProductRequest::descriptor(),
                   catalog::v1::UpsertProductsRequest::descriptor(), catalog::v2::BatchGetProductsRequest::descriptor(),
                   catalog::v2::ListProductsRequest::descriptor(), catalog::v2::BatchGetOffersRequest::descriptor()});
}

TEST_CASE("JsonWire parses the hot requests as protobuf does, and leaves the rest to it", "[json_wire]") {
  const JsonWire parser = Parser();
  const catalog::v1::BatchGetProductsRequest batch;
  CHECK(Compare(parser, batch, R"({"ids":["a","b-1","Café ☕"]})") == "fast");
  CHECK(Compare(parser, batch, " {\n \"ids\" : [ \"a\" , \"b\" ] }\r\n") == "fast");
  CHECK(Compare(parser, batch, R"({"ids":[]})") == "fast");
  CHECK(Compare(parser, batch, R"({})") == "fast");
  const catalog::v2::BatchGetProductsRequest v2;
  CHECK(Compare(parser, v2, R"({"ids":["a"],"consistency":"READ_CONSISTENCY_REPLICA_OK"})") == "fast");
  CHECK(Compare(parser, v2, R"({"ids":["a"],"consistency":1})") == "fast");
  CHECK(Compare(parser, v2, R"({"ids":["a"],"consistency":0})") == "fast");
  const catalog::v2::ListProductsRequest list;
  CHECK(Compare(parser, list, R"({"categoryId":"shoes","pageSize":20,"page_token":"x"})") == "fast");
  CHECK(Compare(parser, list, R"({"categoryId":"shoes","pageSize":"-20"})") == "fast");
  CHECK(Compare(parser, list, R"({"pageSize":2147483647})") == "fast");
  const catalog::v1::UpsertProductsRequest upsert;
  CHECK(Compare(parser, upsert,
                R"({"products":[{"id":"p","sku":"S","title":"T","price":{"currencyCode":"EUR","amountMinor":"-1999"},)"
                R"("stockQuantity":7,"categoryIds":["a","b"],"version":"3"}]})") == "fast");
  const catalog::v2::BatchGetOffersRequest offers;
  CHECK(Compare(parser, offers, R"({"keys":[{"productId":"p","market":"DE"}]})") == "fast");

  // Left to protobuf: its parser decides (and words the error).
  for (const char* json : {
           R"({"ids":["a\"b"]})",           // escapes
           R"({"ids":["a"],"ids":["b"]})",  // a key twice
           R"({"nope":1})",                 // unknown key
           R"({"ids":null})",               // null
           R"({"ids":["a"]} x)",            // trailing bytes
           R"({"ids":["a"])",               // unterminated
           R"({"ids":"a"})",                // not an array
           "{\"ids\":[\"\xff\"]}",          // invalid UTF-8
       }) {
    INFO(json);
    CHECK(Compare(parser, batch, json) == "fallback");
  }
  for (const char* json : {
           R"({"pageSize":2147483648})", R"({"pageSize":1.5})", R"({"pageSize":1e3})", R"({"pageSize":01})",
           R"({"pageSize":"+1"})", R"({"pageSize":true})",
       }) {
    INFO(json);
    CHECK(Compare(parser, list, json) == "fallback");
  }
  CHECK(Compare(parser, v2, R"({"ids":["a"],"readMask":"title"})") == "fallback");  // FieldMask
  CHECK(Compare(parser, v2, R"({"ids":["a"],"consistency":"NOPE"})") == "fallback");
  CHECK(Compare(parser, upsert, R"({"products":[{"attributes":{"k":"v"}}]})") == "fallback");  // map
  CHECK(Compare(parser, upsert, R"({"products":[{"updateTime":"2026-01-01T00:00:00Z"}]})") == "fallback");
}

TEST_CASE("JsonWire on random edits of requests: protobuf's message or not covered", "[json_wire]") {
  const JsonWire parser = Parser();
  const std::string base =
      R"({"products":[{"id":"p-1","sku":"S","title":"Tï","price":{"currencyCode":"EUR","amountMinor":"-1999"},)"
      R"("stockQuantity":7,"categoryIds":["a","b"],"version":"3"}]})";
  const std::string alphabet = "{}[]\":,-0123456789 eE.\\tnulrsafx\xc3\xaf";
  std::mt19937 random(7);
  int fast = 0;
  const catalog::v1::UpsertProductsRequest upsert;
  for (int i = 0; i < 20000; ++i) {
    std::string json = base;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) json[random() % json.size()] = alphabet[random() % alphabet.size()];
    const std::string result = Compare(parser, upsert, json);
    INFO(json);
    REQUIRE(result != "DIFFERENT");
    fast += result == "fast";
  }
  CHECK(fast > 500);
}

}  // namespace
}  // namespace catalog::service

#include "service/connect/json_memo.h"

#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "service/connect/wire_json.h"

namespace catalog::service {
namespace {

catalog::v1::Product Product(int i) {
  catalog::v1::Product p;
  p.set_id(absl::StrCat("p-", i));
  p.set_sku(absl::StrCat("SKU-", i));
  p.set_title(absl::StrCat("Café chair ", i));
  p.set_description("A chair with \"quotes\", <b>tags</b> and a\nnewline, long enough to be kept in the memo.");
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(1999 + i);
  p.set_stock_quantity(i);
  p.add_category_ids("chairs");
  p.set_version(1 + i);
  p.mutable_update_time()->set_seconds(1764028654 + i);
  return p;
}

// A v1 BatchGetProductsResponse holding `products` (raw encodings, maybe
// not valid ones) and `missing` ids.
std::string Response(const std::vector<std::string>& products, const std::vector<std::string>& missing = {}) {
  std::string wire;
  for (const std::string& p : products) {
    wire.push_back('\x0a');
    for (uint64_t n = p.size(); ; n >>= 7) {  // Varint length.
      wire.push_back(static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80));
      if (n < 0x80) break;
    }
    wire += p;
  }
  for (const std::string& id : missing) {
    wire.push_back('\x12');
    wire.push_back(static_cast<char>(id.size()));
    wire += id;
  }
  return wire;
}

std::string Reference(const google::protobuf::Message& prototype, const std::string& wire) {
  std::unique_ptr<google::protobuf::Message> message(prototype.New());
  if (!message->ParseFromString(wire)) return "(no parse)";
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*message, &json).ok()) return "(no json)";
  return json;
}

TEST_CASE("JsonMemo: answers are byte for byte the same with it, and records are copied the second time",
          "[json_memo]") {
  const auto* type = catalog::v1::BatchGetProductsResponse::descriptor();
  JsonMemo memo({});
  WireJson plain({type});
  WireJson memoized({type}, &memo);
  std::vector<std::string> products;
  for (int i = 0; i < 100; ++i) products.push_back(Product(i).SerializeAsString());
  const std::string wire = Response(products, {"gone-1", "gone-2"});
  std::string expected;
  REQUIRE(plain.Write(type, wire, &expected));
  CHECK(expected == Reference(catalog::v1::BatchGetProductsResponse(), wire));
  for (int pass = 0; pass < 2; ++pass) {
    std::string out;
    WireJson::MemoUse use;
    REQUIRE(memoized.Write(type, wire, &out, &use));
    CHECK(out == expected);
    CHECK(use.hits == (pass == 0 ? 0 : 100));
    CHECK(use.misses == (pass == 0 ? 100 : 0));
  }
  CHECK(memo.bytes() > 0);
  // v2: each result (id and product) is one record of the memo.
  const auto* v2 = catalog::v2::BatchGetProductsResponse::descriptor();
  WireJson v2_memoized({v2}, &memo);
  catalog::v2::BatchGetProductsResponse response;
  for (int i = 0; i < 10; ++i) {
    auto* result = response.add_results();
    result->set_id(absl::StrCat("p-", i));
    result->mutable_product()->ParseFromString(products[static_cast<size_t>(i)]);
  }
  response.add_results()->set_id("gone");
  response.mutable_results(10)->mutable_not_found();
  const std::string v2_wire = response.SerializeAsString();
  for (int pass = 0; pass < 2; ++pass) {
    std::string out;
    WireJson::MemoUse use;
    REQUIRE(v2_memoized.Write(v2, v2_wire, &out, &use));
    CHECK(out == Reference(catalog::v2::BatchGetProductsResponse(), v2_wire));
    CHECK(use.hits == (pass == 0 ? 0 : 10));  // The not-found result is below min_message_bytes.
  }
}

TEST_CASE("JsonMemo: a changed record is never answered with its old JSON", "[json_memo]") {
  const auto* type = catalog::v1::BatchGetProductsResponse::descriptor();
  JsonMemo memo({});
  WireJson memoized({type}, &memo);
  catalog::v1::Product product = Product(1);
  std::string out;
  REQUIRE(memoized.Write(type, Response({product.SerializeAsString()}), &out));
  // Every way the stored record can change: one character, the version,
  // a field dropped (a read mask).
  product.set_title("Café chair 2");  // Same length, one byte differs.
  const std::string retitled = Response({product.SerializeAsString()});
  product.set_version(product.version() + 1);
  const std::string bumped = Response({product.SerializeAsString()});
  product.clear_description();
  const std::string trimmed = Response({product.SerializeAsString()});
  for (const std::string* wire : {&retitled, &bumped, &trimmed}) {
    out.clear();
    WireJson::MemoUse use;
    REQUIRE(memoized.Write(type, *wire, &out, &use));
    CHECK(use.hits == 0);
    CHECK(out == Reference(catalog::v1::BatchGetProductsResponse(), *wire));
  }
}

TEST_CASE("JsonMemo on random edits of real encodings: equal to protobuf's, memo or not", "[json_memo]") {
  const auto* type = catalog::v1::BatchGetProductsResponse::descriptor();
  JsonMemo memo({});
  WireJson memoized({type}, &memo);
  const std::string base = Product(7).SerializeAsString();
  std::mt19937 random(7);
  google::protobuf::LogSilencer quiet;
  int covered = 0;
  int64_t hits = 0;
  std::vector<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    std::string record = base;
    for (int e = 0; e < 2; ++e) record[random() % record.size()] = static_cast<char>(random() % 256);
    if (Reference(catalog::v1::Product(), record).front() == '(') continue;  // Answers are messages.
    seen.push_back(record);
    // This record and one seen before (a hit, if it was kept), side by side.
    const std::string wire = Response({record, seen[random() % seen.size()]});
    const std::string reference = Reference(catalog::v1::BatchGetProductsResponse(), wire);
    if (reference.front() == '(') continue;  // Not a message (answers always are), or no JSON.
    std::string out;
    WireJson::MemoUse use;
    if (memoized.Write(type, wire, &out, &use)) {
      ++covered;
      INFO(i);
      REQUIRE(out == reference);
    }
    hits += use.hits;
  }
  CHECK(covered > 500);  // Seeded: 931.
  CHECK(hits > 500);
}

TEST_CASE("JsonMemo: held bytes stay within max_bytes, used entries are kept longest, 0 keeps nothing",
          "[json_memo]") {
  const std::string json(1000, 'j');
  std::vector<std::string> wires;
  for (int i = 0; i < 2000; ++i) wires.push_back(absl::StrCat("record-", i, std::string(200, 'w')));
  int type = 0;
  SECTION("bounded, CLOCK") {
    JsonMemo memo({.max_bytes = 16 * 20000});  // Room for some 15 entries per shard.
    const JsonMemo::Key hot = JsonMemo::KeyOf(&type, wires[0]);
    memo.Insert(hot, json);
    for (size_t i = 1; i < wires.size(); ++i) {
      memo.Insert(JsonMemo::KeyOf(&type, wires[i]), json);
      CHECK(memo.bytes() <= static_cast<int64_t>(memo.options().max_bytes));
      std::string out;
      REQUIRE(memo.Append(hot, &out));  // Used between every insertion: never dropped.
      CHECK(out == json);
    }
    std::string out;
    CHECK(!memo.Append(JsonMemo::KeyOf(&type, wires[1]), &out));  // Old and unused: dropped.
    CHECK(memo.Append(JsonMemo::KeyOf(&type, wires.back()), &out));  // The newest: kept.
    CHECK(memo.bytes() > static_cast<int64_t>(memo.options().max_bytes / 2));
    // Same bytes, another type: not found.
    int other = 0;
    CHECK(!memo.Append(JsonMemo::KeyOf(&other, wires.back()), &out));
  }
  SECTION("an entry larger than a shard's share is not kept; just below it is") {
    JsonMemo memo({.max_bytes = 16 * 4096});
    std::string out;
    memo.Insert(JsonMemo::KeyOf(&type, wires[0]), std::string(4096, 'j'));
    CHECK(!memo.Append(JsonMemo::KeyOf(&type, wires[0]), &out));
    CHECK(memo.bytes() == 0);
    memo.Insert(JsonMemo::KeyOf(&type, wires[1]), std::string(3000, 'j'));
    CHECK(memo.Append(JsonMemo::KeyOf(&type, wires[1]), &out));
  }
  SECTION("max_bytes 0: nothing kept") {
    JsonMemo memo({.max_bytes = 0});
    memo.Insert(JsonMemo::KeyOf(&type, wires[0]), json);
    std::string out;
    CHECK(!memo.Append(JsonMemo::KeyOf(&type, wires[0]), &out));
    CHECK(out.empty());
    CHECK(memo.bytes() == 0);
  }
}

TEST_CASE("JsonMemo: threads writing the same answers through one memo all get protobuf's JSON",
          "[json_memo]") {
  const auto* type = catalog::v1::BatchGetProductsResponse::descriptor();
  JsonMemo memo({.max_bytes = 16 * 8192});  // Small: insertions and evictions race with hits.
  WireJson memoized({type}, &memo);
  std::vector<std::string> answers;
  std::vector<std::string> expected;
  for (int a = 0; a < 20; ++a) {
    std::vector<std::string> products;
    for (int i = 0; i < 20; ++i) products.push_back(Product(a * 7 + i).SerializeAsString());
    answers.push_back(Response(products));
    expected.push_back(Reference(catalog::v1::BatchGetProductsResponse(), answers.back()));
  }
  std::atomic<int> wrong{0};
  std::atomic<int64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        const size_t a = static_cast<size_t>(round * 3 + t) % answers.size();
        std::string out;
        WireJson::MemoUse use;
        if (!memoized.Write(type, answers[a], &out, &use) || out != expected[a]) ++wrong;
        hits += use.hits;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(wrong == 0);
  CHECK(hits > 0);
  CHECK(memo.bytes() <= static_cast<int64_t>(memo.options().max_bytes));
}

}  // namespace
}  // namespace catalog::service

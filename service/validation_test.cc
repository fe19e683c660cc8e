#include "service/validation.h"

#include <catch2/catch.hpp>

namespace catalog::service {
namespace {

using catalog::v1::Product;

Product Valid(const std::string& id) {
  Product p;
  p.set_id(id);
  p.set_sku("SKU-1");
  p.set_title("A product");
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(1999);
  return p;
}

std::string Message(const absl::Status& s) {
  REQUIRE(absl::IsInvalidArgument(s));
  return std::string(s.message());
}

absl::Status Batch(const std::vector<Product>& products, int64_t max = 1000) {
  std::vector<const Product*> pointers;
  for (const Product& p : products) pointers.push_back(&p);
  return ValidateProductBatch(pointers, "products", max);
}

TEST_CASE("id batches: exact messages for empty, oversized, malformed and duplicate") {
  CHECK(ValidateIdBatch(std::vector<std::string>{"a", "b.c:d_e-f"}, "ids", 10).ok());
  CHECK(Message(ValidateIdBatch(std::vector<std::string>{}, "ids", 10)) == "ids: must not be empty");
  CHECK(Message(ValidateIdBatch(std::vector<absl::string_view>{"a", "a"}, "ids", 10)) ==
        "ids[1]: duplicate of ids[0] \"a\"");
  CHECK(Message(ValidateIdBatch(std::vector<std::string>(11, "x"), "ids", 10)) == "ids: 11 ids exceed the limit of 10");
  CHECK(Message(ValidateIdBatch(std::vector<std::string>{"ok", "has space"}, "ids", 10)) ==
        "ids[1]: \"has space\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  CHECK(Message(ValidateIdBatch(std::vector<std::string>{"ok", ""}, "ids", 10)) ==
        "ids[1]: \"\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  CHECK(
      Message(ValidateIdBatch(std::vector<std::string>{std::string(129, 'a')}, "ids", 10)).rfind("ids[0]: \"aaaa", 0) ==
      0);
  CHECK(Message(ValidateIdBatch(std::vector<std::string>{"a", "b", "a"}, "ids", 10)) ==
        "ids[2]: duplicate of ids[0] \"a\"");
}

TEST_CASE("product fields: each rule names the field and index") {
  CHECK(Batch({Valid("a"), Valid("b")}).ok());
  Product p = Valid("b");
  p.clear_sku();
  CHECK(Message(Batch({Valid("a"), p})) == "products[1].sku: required");
  p = Valid("b");
  p.set_title(std::string(257, 't'));
  CHECK(Message(Batch({Valid("a"), p})) == "products[1].title: 257 bytes exceed the limit of 256");
  p = Valid("b");
  p.clear_price();
  CHECK(Message(Batch({p})) == "products[0].price: required");
  p = Valid("b");
  p.mutable_price()->set_currency_code("eur");
  CHECK(Message(Batch({p})) == "products[0].price.currency_code: \"eur\" is not a 3-letter upper-case ISO 4217 code");
  p = Valid("b");
  p.mutable_price()->set_amount_minor(-1);
  CHECK(Message(Batch({p})) == "products[0].price.amount_minor: -1 must be >= 0");
  p = Valid("b");
  p.set_stock_quantity(-3);
  CHECK(Message(Batch({p})) == "products[0].stock_quantity: -3 must be >= 0");
  p = Valid("b");
  p.add_category_ids("shoes");
  p.add_category_ids("bad id");
  CHECK(Message(Batch({p})) == "products[0].category_ids[1]: \"bad id\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  p = Valid("b");
  (*p.mutable_attributes())["color"] = std::string(1025, 'x');
  CHECK(Message(Batch({p})) == "products[0].attributes[\"color\"]: value of 1025 bytes exceeds the limit of 1024");
  p = Valid("bad/id");
  CHECK(Message(Batch({p})) == "products[0].id: \"bad/id\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  CHECK(Message(Batch({Valid("a"), Valid("a")})) == "products[1].id: duplicate of products[0].id \"a\"");
  CHECK(Message(Batch({})) == "products: must not be empty");
  CHECK(Message(Batch({Valid("a"), Valid("b")}, 1)) == "products: 2 products exceed the limit of 1");
}

TEST_CASE("user input in messages is escaped and cut") {
  const std::string message = Message(ValidateId(std::string("\n") + std::string(200, 'z'), "id"));
  CHECK(message.rfind("id: \"\\n", 0) == 0);
  CHECK(message.find("...\"") != std::string::npos);
  CHECK(message.size() < 200);
}

}  // namespace
}  // namespace catalog::service

#include "service/encoded_batch_response.h"

#include <catch2/catch.hpp>

#include "catalog/v1/catalog.pb.h"

namespace catalog::service {
namespace {

TEST_CASE("the assembled response is byte-identical to protobuf's own encoding") {
  catalog::v1::BatchGetProductsResponse expected;
  std::vector<std::string> ids;
  std::vector<std::optional<std::string>> values;
  for (int i = 0; i < 300; ++i) {  // Sizes across the 1- and 2-byte varint boundary.
    const std::string id = "id" + std::to_string(i);
    ids.push_back(id);
    if (i % 7 == 3) {
      values.emplace_back();
      continue;
    }
    catalog::v1::Product p;
    p.set_id(id);
    p.set_title(std::string(i, 't'));
    p.set_version(i + 1);
    values.emplace_back(p.SerializeAsString());
    *expected.add_products() = p;
  }
  for (int i = 0; i < 300; ++i) {
    if (!values[i]) expected.add_missing_ids(ids[i]);
  }
  EncodedBatchResponse response = EncodedBatchResponse::Build(ids, values);
  std::vector<grpc::Slice> slices;
  REQUIRE(response.buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  CHECK(bytes == expected.SerializeAsString());
  catalog::v1::BatchGetProductsResponse parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  CHECK(parsed.products_size() == expected.products_size());
  CHECK(parsed.missing_ids(0) == "id3");
}

TEST_CASE("an empty result is an empty message") {
  std::vector<std::string> ids;
  std::vector<std::optional<std::string>> values;
  CHECK(EncodedBatchResponse::Build(ids, values).buffer.Length() == 0);
}

}  // namespace
}  // namespace catalog::service

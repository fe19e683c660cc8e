#include "service/raw_read.h"

#include <catch2/catch.hpp>

#include "catalog/v2/catalog.pb.h"

namespace catalog::service {
namespace {

grpc::ByteBuffer Buffer(const std::string& bytes, size_t pieces) {
  std::vector<grpc::Slice> slices;
  const size_t step = std::max<size_t>(1, bytes.size() / pieces);
  for (size_t at = 0; at < bytes.size(); at += step) slices.emplace_back(bytes.substr(at, step));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST_CASE("batch request ids parse as views exactly as the generated parser reads them, unknown fields and all") {
  catalog::v2::BatchGetProductsRequest typed;
  for (int i = 0; i < 50; ++i) typed.add_ids("id-" + std::to_string(i));
  typed.mutable_read_mask()->add_paths("title");
  std::string bytes = typed.SerializeAsString();
  bytes += std::string("\x18\x96\x01", 3);                  // Field 3 (consistency), varint: 150.
  bytes += std::string("\x21", 1) + std::string(8, '\7');    // Field 4, fixed64.
  bytes += std::string("\x2d", 1) + std::string(4, '\7');    // Field 5, fixed32.
  bytes += std::string("\x32\x03xyz", 5);                    // Field 6, bytes.
  bytes += std::string("\x12\x07\x0a\x05price", 9);         // read_mask again: merges.
  bytes += std::string("\x18\x01", 2);                      // consistency again: the last wins.
  bytes += std::string("\x38\x05", 2);                      // Field 7, varint: unknown.
  for (size_t pieces : {size_t{1}, size_t{3}, size_t{64}}) {
    storage::IdBatch batch;
    std::string mask;
    uint64_t consistency = 99;
    REQUIRE(ParseBatchRequest(Buffer(bytes, pieces), &batch, &mask, &consistency));
    catalog::v2::BatchGetProductsRequest reference;
    REQUIRE(reference.ParseFromString(bytes));
    REQUIRE(batch.ids.size() == static_cast<size_t>(reference.ids_size()));
    for (int i = 0; i < reference.ids_size(); ++i) CHECK(batch.ids[i] == reference.ids(i));
    google::protobuf::FieldMask parsed_mask;
    REQUIRE(parsed_mask.ParseFromString(mask));
    CHECK(parsed_mask.SerializeAsString() == reference.read_mask().SerializeAsString());
    CHECK(consistency == static_cast<uint64_t>(reference.consistency()));
    CHECK(reference.consistency() == catalog::v2::READ_CONSISTENCY_REPLICA_OK);
  }
}

TEST_CASE("what the view parser refuses: malformed bytes and non-ASCII ids (left to the generated parser)") {
  storage::IdBatch batch;
  std::string mask;
  catalog::v2::BatchGetProductsRequest typed;
  typed.add_ids("caf\xc3\xa9");  // Valid UTF-8, not an id: the typed parse reads it, validation refuses it.
  CHECK_FALSE(ParseBatchRequest(Buffer(typed.SerializeAsString(), 1), &batch, &mask));
  const std::string truncated = std::string("\x0a\x05" "ab", 4);
  CHECK_FALSE(ParseBatchRequest(Buffer(truncated, 1), &batch, &mask));
  CHECK_FALSE(ParseBatchRequest(Buffer(std::string("\x0b", 1), 1), &batch, &mask));  // A group.
  CHECK_FALSE(ParseBatchRequest(Buffer(std::string("\x00\x01", 2), 1), &batch, &mask));  // Field 0.
  uint64_t consistency = 99;
  CHECK(ParseBatchRequest(Buffer("", 1), &batch, &mask, &consistency));  // Empty: no ids (validation says so).
  CHECK(batch.ids.empty());
  CHECK(consistency == 0);  // Absent: the default.
  // A value past 32 bits reads as protobuf reads an enum: its low 32 bits.
  const std::string wide = std::string("\x18\x81\x80\x80\x80\x10", 6);  // Field 3 = 0x100000001.
  catalog::v2::BatchGetProductsRequest reference;
  REQUIRE(reference.ParseFromString(wide));
  CHECK(ParseBatchRequest(Buffer(wide, 1), &batch, &mask, &consistency));
  CHECK(consistency == static_cast<uint64_t>(reference.consistency()));
  CHECK(consistency == 1);
}

}  // namespace
}  // namespace catalog::service

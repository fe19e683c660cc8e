// Wire compatibility: calls recorded from the catalog.v1 release (binary
// request/response pairs under tests/fixtures/v1/) are replayed, as raw bytes,
// against the current server on empty storage. Every response must still
// decode with the current generated types and equal the recorded one
// (update_time excepted: it is checked to be set, not compared).
//
// Recording (only for a new release): CATALOG_RECORD_FIXTURES=1 runs the
// scenario below and rewrites the fixtures instead of comparing.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/str_split.h"
#include "catalog/v1/catalog.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/harness/harness.h"

namespace catalog {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(CATALOG_SOURCE_DIR) / "tests/fixtures/v1";

struct Recorded {
  std::string name;     // e.g. "03_batch_get"
  std::string method;   // e.g. "BatchGetProducts"
  int status_code = 0;  // grpc::StatusCode of the reply
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One raw unary call: bytes in, bytes and status out.
std::pair<grpc::Status, std::string> RawCall(grpc::GenericStub& stub, const std::string& method,
                                             const std::string& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/catalog.v1.CatalogService/" + method, grpc::StubOptions(), &request_buffer,
                 &response_buffer, [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && response_buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return {status, bytes};
}

std::unique_ptr<google::protobuf::Message> NewResponse(const std::string& method) {
  const google::protobuf::MethodDescriptor* descriptor =
      catalog::v1::Product::descriptor()->file()->FindServiceByName("CatalogService")->FindMethodByName(method);
  REQUIRE(descriptor != nullptr);
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor->output_type())->New());
}

// The v1 release scenario: writes, reads, a conditional write, a conflict,
// a delete, errors. Request messages are built with the release's types.
std::vector<std::pair<Recorded, std::string>> Scenario() {
  using namespace catalog::v1;
  auto product = [](const std::string& id, const std::string& title) {
    Product p;
    p.set_id(id);
    p.set_sku("SKU-" + id);
    p.set_title(title);
    p.set_description("Fixture product " + id);
    p.mutable_price()->set_currency_code("EUR");
    p.mutable_price()->set_amount_minor(2599);
    p.set_stock_quantity(12);
    (*p.mutable_attributes())["color"] = "blue";
    (*p.mutable_attributes())["size"] = "42";
    p.add_category_ids("shoes");
    p.add_category_ids("sale");
    return p;
  };
  std::vector<std::pair<Recorded, std::string>> calls;
  auto add = [&](const std::string& name, const std::string& method, const google::protobuf::Message& request) {
    calls.push_back({Recorded{name, method, 0}, request.SerializeAsString()});
  };
  UpsertProductsRequest upsert;
  *upsert.add_products() = product("shoe-1", "Blue shoe");
  *upsert.add_products() = product("shoe-2", "Other shoe");
  add("01_upsert_two", "UpsertProducts", upsert);
  GetProductRequest get;
  get.set_id("shoe-1");
  add("02_get", "GetProduct", get);
  BatchGetProductsRequest batch;
  batch.add_ids("shoe-2");
  batch.add_ids("never-stored");
  batch.add_ids("shoe-1");
  add("03_batch_get_mixed", "BatchGetProducts", batch);
  UpsertProductsRequest conditional;
  *conditional.add_products() = product("shoe-1", "Blue shoe, new title");
  conditional.mutable_products(0)->set_version(1);
  add("04_upsert_conditional", "UpsertProducts", conditional);
  add("05_upsert_stale_version", "UpsertProducts", conditional);  // Version 1 again: ABORTED.
  DeleteProductsRequest del;
  del.add_ids("shoe-2");
  del.add_ids("never-stored");
  add("06_delete", "DeleteProducts", del);
  add("07_batch_get_after_delete", "BatchGetProducts", batch);
  GetProductRequest missing;
  missing.set_id("shoe-2");
  add("08_get_deleted", "GetProduct", missing);
  BatchGetProductsRequest invalid;
  invalid.add_ids("bad id");
  add("09_batch_get_invalid_id", "BatchGetProducts", invalid);
  return calls;
}

struct Server {
  testing::RedisServer redis;
  testing::SharedMySql mysql;
  testing::CatalogServerProcess process{redis.port(), mysql.port(), mysql.database()};
  grpc::GenericStub stub{grpc::CreateChannel(process.target(), grpc::InsecureChannelCredentials())};
};

TEST_CASE("calls recorded from the catalog.v1 release replay byte-compatibly") {
  Server server;
  if (std::getenv("CATALOG_RECORD_FIXTURES") != nullptr) {
    std::filesystem::create_directories(kFixtures);
    std::ofstream manifest(kFixtures / "manifest.txt");
    manifest << "# name method grpc_status_code (files: NAME.request.binpb, NAME.response.binpb or NAME.status.txt)\n";
    for (auto& [call, request] : Scenario()) {
      auto [status, response] = RawCall(server.stub, call.method, request);
      std::ofstream(kFixtures / (call.name + ".request.binpb"), std::ios::binary) << request;
      if (status.ok()) {
        std::ofstream(kFixtures / (call.name + ".response.binpb"), std::ios::binary) << response;
      } else {
        std::ofstream(kFixtures / (call.name + ".status.txt")) << status.error_message();
      }
      manifest << call.name << " " << call.method << " " << status.error_code() << "\n";
    }
    WARN("fixtures recorded in " << kFixtures);
    CHECK(std::filesystem::exists(kFixtures / "manifest.txt"));
    return;
  }

  std::istringstream manifest(ReadFile(kFixtures / "manifest.txt"));
  int replayed = 0;
  for (std::string line; std::getline(manifest, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    REQUIRE(fields.size() == 3);
    const std::string& name = fields[0];
    const std::string& method = fields[1];
    const int expected_code = std::stoi(fields[2]);
    INFO(name);
    auto [status, response] = RawCall(server.stub, method, ReadFile(kFixtures / (name + ".request.binpb")));
    REQUIRE(status.error_code() == expected_code);
    ++replayed;
    if (!status.ok()) {
      CHECK(status.error_message() == ReadFile(kFixtures / (name + ".status.txt")));
      continue;
    }
    std::unique_ptr<google::protobuf::Message> expected = NewResponse(method);
    std::unique_ptr<google::protobuf::Message> actual = NewResponse(method);
    REQUIRE(expected->ParseFromString(ReadFile(kFixtures / (name + ".response.binpb"))));
    REQUIRE(actual->ParseFromString(response));
    google::protobuf::util::MessageDifferencer differ;
    differ.IgnoreField(catalog::v1::Product::descriptor()->FindFieldByName("update_time"));
    std::string differences;
    differ.ReportDifferencesToString(&differences);
    INFO(differences);
    CHECK(differ.Compare(*expected, *actual));
    // update_time is not compared, but it must be there wherever it was.
    const std::string text = actual->DebugString();
    CHECK((expected->DebugString().find("update_time") == std::string::npos) ==
          (text.find("update_time") == std::string::npos));
  }
  CHECK(replayed == 9);
}

}  // namespace
}  // namespace catalog

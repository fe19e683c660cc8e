// The server's log, on the real binary: JSON lines, request ids from the
// caller (or made up) sent back and written in the call's lines, the
// sampled access log, per-channel levels changed through the admin plane,
// and per-channel files.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

// The response trailers' x-request-id of a v1 BatchGetProducts of `id`,
// sent with `request_id` unless it is empty.
std::string CallWithRequestId(Client& client, const std::string& request_id, const std::string& id = "a") {
  grpc::ClientContext context;
  Client::Deadline(context);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  catalog::v1::BatchGetProductsRequest request;
  request.add_ids(id);
  catalog::v1::BatchGetProductsResponse response;
  REQUIRE(client.stub->BatchGetProducts(&context, request, &response).ok());
  const auto& metadata = context.GetServerTrailingMetadata();
  const auto it = metadata.find("x-request-id");
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

// The lines of `text` containing every one of `parts`.
std::vector<std::string> LinesWith(const std::string& text, const std::vector<std::string>& parts) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    bool all = true;
    for (const std::string& part : parts) all = all && absl::StrContains(line, part);
    if (all) found.emplace_back(line);
  }
  return found;
}

// Whether every line of `text` is a JSON object (checked by Python's json).
bool AllJsonLines(const std::string& text) {
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                           catalog::testing::UniqueName("log") + ".jsonl";
  std::ofstream(path) << text;
  const std::string command = "python3 -c 'import json, sys\n"
                              "for line in open(sys.argv[1]):\n"
                              "    assert isinstance(json.loads(line), dict), line\n' " +
                              path;
  return std::system(command.c_str()) == 0;
}

TEST_CASE("logs: a caller's x-request-id comes back and is in every line of its call, else one is made up") {
  Stack s({"--log_level=debug", "--access_log_every=1"});
  CHECK(CallWithRequestId(s.client, "frontend-42:abc") == "frontend-42:abc");
  const std::string made_up = CallWithRequestId(s.client, "");
  CHECK(std::regex_match(made_up, std::regex("[0-9a-f]{32}")));
  const std::string replaced = CallWithRequestId(s.client, "bad id with spaces");
  CHECK(std::regex_match(replaced, std::regex("[0-9a-f]{32}")));
  CHECK(replaced != made_up);

  REQUIRE(Eventually([&] { return !LinesWith(s.server.Log(), {made_up, "\"channel\":\"access\""}).empty(); }));
  const std::string log = s.server.Log();
  INFO(log);
  CHECK(AllJsonLines(log));
  // The call's rpc line (debug: every call) and its access line carry the id.
  for (const std::string& id : {std::string("frontend-42:abc"), made_up}) {
    const auto rpc = LinesWith(log, {"\"channel\":\"rpc\"", "\"request_id\":\"" + id + "\"",
                                     "\"method\":\"catalog.v1.CatalogService/BatchGetProducts\"", "\"code\":\"OK\""});
    CHECK(rpc.size() == 1);
    const auto access = LinesWith(log, {"\"channel\":\"access\"", "\"request_id\":\"" + id + "\"", "\"peer\":\"ipv"});
    CHECK(access.size() == 1);
  }
  CHECK(LinesWith(log, {"bad id with spaces"}).empty());
}

TEST_CASE("logs: a channel's level changes while the server runs, through the admin plane only") {
  Stack s;  // log_level info: rpc lines of successful calls are debug, not written
  CallWithRequestId(s.client, "before-change");
  grpc::ClientContext context;
  Client::Deadline(context);
  catalog::admin::v1::SetLogLevelRequest request;
  request.set_channel("rpc");
  request.set_level("debug");
  catalog::admin::v1::SetLogLevelResponse response;
  REQUIRE(s.client.admin->SetLogLevel(&context, request, &response).ok());
  CHECK(response.levels() == "rpc=debug,access=info,storage=info,tiering=info,admin=info,server=info");
  CallWithRequestId(s.client, "after-change");

  grpc::ClientContext bad_context;
  Client::Deadline(bad_context);
  request.set_channel("disk");
  const grpc::Status bad = s.client.admin->SetLogLevel(&bad_context, request, &response);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(bad.error_message() ==
        "log channel \"disk\" is not one of rpc, access, storage, tiering, admin, server; channels: *, rpc, access, "
        "storage, tiering, admin, server");
  // The public port does not serve the admin service.
  auto on_public = catalog::admin::v1::CatalogAdminService::NewStub(s.client.channel);
  grpc::ClientContext public_context;
  Client::Deadline(public_context);
  request.set_channel("rpc");
  CHECK(on_public->SetLogLevel(&public_context, request, &response).error_code() == grpc::StatusCode::UNIMPLEMENTED);

  const std::string log = s.server.Log();
  INFO(log);
  CHECK(LinesWith(log, {"\"request_id\":\"before-change\""}).empty());
  CHECK(LinesWith(log, {"\"channel\":\"rpc\"", "\"request_id\":\"after-change\""}).size() == 1);
  CHECK(LinesWith(log, {"\"channel\":\"admin\"", "log level of rpc set to debug"}).size() == 1);
  CHECK(AllJsonLines(log));
}

TEST_CASE("logs: with log_dir, channel files get every line whole and stderr a short line") {
  const std::string dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                          catalog::testing::UniqueName("logdir");
  REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
  Stack s({"--log_level=debug", "--log_dir=" + dir});
  CallWithRequestId(s.client, "in-a-file");
  auto read = [&](const std::string& name) {
    std::ifstream in(dir + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  REQUIRE(Eventually([&] { return !LinesWith(read("rpc.log"), {"in-a-file"}).empty(); }));
  const auto whole = LinesWith(read("rpc.log"), {"\"request_id\":\"in-a-file\"", "\"method\":"});
  CHECK(whole.size() == 1);
  const auto short_line = LinesWith(s.server.Log(), {"\"request_id\":\"in-a-file\""});
  REQUIRE(short_line.size() == 1);
  CHECK_FALSE(absl::StrContains(short_line[0], "\"method\":"));
  CHECK(LinesWith(read("server.log"), {"listening on"}).size() == 1);
  CHECK(AllJsonLines(read("rpc.log") + read("server.log")));
}

}  // namespace
}  // namespace catalog

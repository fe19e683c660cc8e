// catalog-admin: operator commands against a running catalog-server's admin
// plane (its admin_listen_address, default 127.0.0.1:50052).
//   catalog-admin [--target=host:port] [--token_file=F] demote --idle-seconds N [--limit K] [--records products|offers]
//   catalog-admin [--target=host:port] [--token_file=F] metrics
//   catalog-admin [--target=host:port] [--token_file=F] log-level [CHANNEL LEVEL]
// The bearer token, where the server requires one: from --token_file, else
// the environment variable CATALOG_ADMIN_TOKEN (never a flag's value: a
// command line is readable by every local user).
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "catalog/admin/v1/admin.grpc.pb.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: catalog-admin [--target=host:port] [--token_file=F] demote --idle-seconds N [--limit K] "
               "[--records products|offers]\n"
               "       catalog-admin [--target=host:port] [--token_file=F] metrics\n"
               "       catalog-admin [--target=host:port] [--token_file=F] log-level [CHANNEL LEVEL]\n"
               "         (CHANNEL: rpc, access, storage, tiering, admin, server or *; LEVEL: debug, info, warning, "
               "error; without them: print every channel's level)\n"
               "--target: the server's admin plane (default 127.0.0.1:50052); the token from --token_file or "
               "CATALOG_ADMIN_TOKEN\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:50052";
  std::string token = std::getenv("CATALOG_ADMIN_TOKEN") != nullptr ? std::getenv("CATALOG_ADMIN_TOKEN") : "";
  std::string command;
  int64_t idle_seconds = -1;
  int64_t limit = 0;
  std::string records;
  std::vector<std::string> positional;  // log-level's CHANNEL LEVEL
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](absl::string_view flag, int64_t* out) {
      if (i + 1 >= argc || !absl::SimpleAtoi(argv[i + 1], out)) {
        std::fprintf(stderr, "catalog-admin: %s needs an integer\n", std::string(flag).c_str());
        return false;
      }
      ++i;
      return true;
    };
    if (absl::StartsWith(arg, "--target=")) {
      target = arg.substr(9);
    } else if (absl::StartsWith(arg, "--token_file=")) {
      std::ifstream in(arg.substr(13), std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "catalog-admin: cannot read %s\n", arg.substr(13).c_str());
        return 2;
      }
      token.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      // As the server reads its token file: one trailing newline ignored.
      if (!token.empty() && token.back() == '\n') token.pop_back();
      if (!token.empty() && token.back() == '\r') token.pop_back();
    } else if (arg == "--idle-seconds") {
      if (!value(arg, &idle_seconds)) return 2;
    } else if (arg == "--limit") {
      if (!value(arg, &limit)) return 2;
    } else if (arg == "--records" && i + 1 < argc) {
      records = argv[++i];
    } else if (command.empty() && (arg == "demote" || arg == "metrics" || arg == "log-level")) {
      command = arg;
    } else if (command == "log-level" && positional.size() < 2 && !absl::StartsWith(arg, "-")) {
      positional.push_back(arg);
    } else {
      return Usage();
    }
  }
  auto stub =
      catalog::admin::v1::CatalogAdminService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  if (command == "demote") {
    if (idle_seconds < 0) return Usage();
    catalog::admin::v1::DemoteRequest request;
    request.set_idle_seconds(idle_seconds);
    request.set_limit(limit);
    request.set_record_type(records);
    catalog::admin::v1::DemoteResponse response;
    grpc::Status status = stub->Demote(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "catalog-admin: demote failed: %d %s\n", status.error_code(),
                   status.error_message().c_str());
      return 1;
    }
    std::printf("scanned=%lld demoted=%lld tombstones_demoted=%lld skipped_changed=%lld too_large=%lld bytes=%lld\n",
                static_cast<long long>(response.scanned()), static_cast<long long>(response.demoted()),
                static_cast<long long>(response.tombstones_demoted()),
                static_cast<long long>(response.skipped_changed()), static_cast<long long>(response.too_large()),
                static_cast<long long>(response.bytes()));
    if (response.too_large() > 0) {
      std::fprintf(stderr,
                   "catalog-admin: %lld idle records do not fit one MySQL statement and stay in Redis; raise "
                   "MariaDB's max_allowed_packet. First: %s\n",
                   static_cast<long long>(response.too_large()), response.too_large_ids(0).c_str());
      return 3;
    }
    return 0;
  }
  if (command == "log-level") {
    if (positional.size() == 1) return Usage();
    catalog::admin::v1::SetLogLevelRequest request;
    if (positional.size() == 2) {
      request.set_channel(positional[0]);
      request.set_level(positional[1]);
    }
    catalog::admin::v1::SetLogLevelResponse response;
    grpc::Status status = stub->SetLogLevel(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "catalog-admin: log-level failed: %d %s\n", status.error_code(),
                   status.error_message().c_str());
      return 1;
    }
    std::printf("%s\n", response.levels().c_str());
    return 0;
  }
  if (command == "metrics") {
    catalog::admin::v1::GetMetricsResponse response;
    grpc::Status status = stub->GetMetrics(&context, {}, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "catalog-admin: metrics failed: %d %s\n", status.error_code(),
                   status.error_message().c_str());
      return 1;
    }
    std::fputs(response.text().c_str(), stdout);
    return 0;
  }
  return Usage();
}

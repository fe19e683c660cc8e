// ConnectService: serves the unary methods of gRPC services over the
// Connect protocol (connectrpc.com/docs/protocol, unary), as an HttpHandler
// for HttpServer. It only translates: every call is made on the gRPC
// server's in-process channel, so it runs the very handlers gRPC callers
// reach — the same validation, admission limit (max_in_flight_calls),
// deadlines (capped at max_call_ms), metrics (catalog_rpc_*), logs and
// request ids, with no business logic per protocol.
//
// Requests: POST /<package.Service>/<Method>, Content-Type application/proto
// (the request message's bytes, passed through unparsed: the server parses
// them exactly as a gRPC call's) or application/json (proto3 JSON mapping,
// converted here, by JsonWire where it covers the request, else by
// protobuf's parser; unknown fields are an error). Optional headers:
// Connect-Protocol-Version (must be 1), Connect-Timeout-Ms (the deadline),
// X-Request-Id (forwarded as the call's x-request-id metadata).
//
// Answers: 200 with the response message in the request's encoding (JSON as
// `buf curl` prints it: lowerCamelCase names, defaults omitted; written from
// the answer's bytes by WireJson, protobuf's printer where it does not
// cover a message; each record's JSON kept in a JsonMemo), or the
// Connect error: HTTP status for the code, Content-Type application/json,
// body {"code":"not_found","message":"..."}. The server's trailing metadata
// (x-request-id) comes back as `trailer-` prefixed headers, as the protocol
// says for unary calls; initial metadata as plain headers.
// Requests refused before a call: unknown path 404 (unimplemented), other
// than POST 405, another content type 415 (with Accept-Post), a content
// encoding other than identity 501 (unimplemented), a bad Connect header or
// undecodable JSON 400 (invalid_argument). GET is not served.
//
// CORS (browsers): off unless `cors_allowed_origins` is set; then a request
// whose Origin is listed (or "*" listed) gets Access-Control-Allow-Origin
// and the Connect headers exposed, and preflights (OPTIONS) are answered
// 204; a preflight from another origin gets 403.
//
// Thread-safety: Handle runs concurrently on the HttpServer's threads; calls
// finish on gRPC's callback threads. The destructor waits for calls in
// flight to finish (they end at their deadline or when the gRPC server
// shuts down).
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "service/connect/http_server.h"
#include "service/connect/json_wire.h"
#include "service/connect/wire_json.h"
#include "storage/metrics.h"

namespace catalog::service {

struct ConnectOptions {
  // Origins browsers may call from ("https://shop.example.com"), or "*" for
  // any; empty: no CORS headers, preflights refused. Default empty.
  std::vector<std::string> cors_allowed_origins;
  // JSON answers: bytes of records' JSON kept by their encoding (JsonMemo;
  // never stale); 0: none. Default 64 MiB.
  size_t json_cache_bytes = size_t{64} << 20;
};

class ConnectService final : public HttpHandler {
 public:
  // Serves every unary method of `services` (descriptors of the generated
  // pool) on `channel`. `metrics` must outlive this.
  ConnectService(std::shared_ptr<grpc::Channel> channel,
                 const std::vector<const google::protobuf::ServiceDescriptor*>& services, ConnectOptions options,
                 storage::Metrics* metrics);
  ~ConnectService() override;

  void Handle(HttpRequest request, Respond respond) override;

  struct Method {
    std::string path;  // "/package.Service/Method"
    const google::protobuf::Message* request_prototype;
    const google::protobuf::Message* response_prototype;
  };
  struct Call;  // connect_service.cc only.

 private:
  void Reject(Respond respond, int status, absl::string_view code, std::string message,
              std::vector<std::pair<std::string, std::string>> headers);
  void Finished(Call* call, const grpc::Status& status);

  grpc::GenericStub stub_;
  const ConnectOptions options_;
  storage::Metrics* const metrics_;
  absl::flat_hash_map<std::string, Method> methods_;
  std::unique_ptr<JsonMemo> json_memo_;        // Records' JSON, by their bytes.
  std::unique_ptr<const WireJson> wire_json_;  // JSON answers written from the bytes.
  std::unique_ptr<const JsonWire> json_wire_;  // JSON requests read into bytes.
  std::string method_list_;  // For the unknown-path message.
  absl::Mutex mu_;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// The Connect protocol's name of a gRPC code ("not_found") and the HTTP
// status it is answered with (404).
absl::string_view ConnectCodeName(grpc::StatusCode code);
int ConnectHttpStatus(grpc::StatusCode code);

}  // namespace catalog::service

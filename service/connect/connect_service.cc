#include "service/connect/connect_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace catalog::service {
namespace {

enum class Encoding { kProto, kJson };

constexpr char kAllowedHeaders[] =
    "content-type, connect-protocol-version, connect-timeout-ms, x-request-id, x-user-agent";
constexpr char kExposedHeaders[] = "trailer-x-request-id, content-encoding, connect-content-encoding";

bool PrintableAscii(absl::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::string_view ConnectCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "ok";
    case grpc::StatusCode::CANCELLED: return "canceled";
    case grpc::StatusCode::UNKNOWN: return "unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid_argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline_exceeded";
    case grpc::StatusCode::NOT_FOUND: return "not_found";
    case grpc::StatusCode::ALREADY_EXISTS: return "already_exists";
    case grpc::StatusCode::PERMISSION_DENIED: return "permission_denied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "resource_exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "failed_precondition";
    case grpc::StatusCode::ABORTED: return "aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "out_of_range";
    case grpc::StatusCode::UNIMPLEMENTED: return "unimplemented";
    case grpc::StatusCode::INTERNAL: return "internal";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::DATA_LOSS: return "data_loss";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    default: return "unknown";
  }
}

int ConnectHttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return 200;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE: return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: return 409;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    default: return 500;  // unknown, internal, data_loss.
  }
}

// One call in flight: owns what gRPC writes into until it completes.
struct ConnectService::Call {
  const Method* method;
  Encoding encoding;
  Respond respond;
  std::vector<std::pair<std::string, std::string>> headers;  // CORS.
  std::string request_id;  // The caller's X-Request-Id, if usable.
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

ConnectService::ConnectService(std::shared_ptr<grpc::Channel> channel,
                               const std::vector<const google::protobuf::ServiceDescriptor*>& services,
                               ConnectOptions options, storage::Metrics* metrics)
    : stub_(std::move(channel)), options_(std::move(options)), metrics_(metrics) {
  google::protobuf::MessageFactory* factory = google::protobuf::MessageFactory::generated_factory();
  std::vector<std::string> names;
  for (const google::protobuf::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (m->client_streaming() || m->server_streaming()) continue;  // Connect unary only.
      Method method{absl::StrCat("/", service->full_name(), "/", m->name()), factory->GetPrototype(m->input_type()),
                    factory->GetPrototype(m->output_type())};
      names.push_back(method.path);
      methods_.emplace(method.path, std::move(method));
    }
  }
  method_list_ = absl::StrJoin(names, ", ");
  std::vector<const google::protobuf::Descriptor*> outputs;
  for (const auto& [path, method] : methods_) outputs.push_back(method.response_prototype->GetDescriptor());
  if (options_.json_cache_bytes > 0) {
    json_memo_ = std::make_unique<JsonMemo>(JsonMemo::Options{.max_bytes = options_.json_cache_bytes});
  }
  wire_json_ = std::make_unique<const WireJson>(outputs, json_memo_.get());
  std::vector<const google::protobuf::Descriptor*> inputs;
  for (const auto& [path, method] : methods_) inputs.push_back(method.request_prototype->GetDescriptor());
  json_wire_ = std::make_unique<const JsonWire>(inputs);
}

ConnectService::~ConnectService() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int64_t* calls) { return *calls == 0; }, &calls_));
}

void ConnectService::Reject(Respond respond, int status, absl::string_view code, std::string message,
                            std::vector<std::pair<std::string, std::string>> headers) {
  metrics_->Add(storage::Counter::http_rejected_total);
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = ConnectErrorJson(code, message);
  std::move(respond)(std::move(response));
}

void ConnectService::Handle(HttpRequest request, Respond respond) {
  std::vector<std::pair<std::string, std::string>> headers;
  const std::optional<absl::string_view> origin = request.Header("origin");
  bool origin_allowed = false;
  if (origin.has_value()) {
    for (const std::string& allowed : options_.cors_allowed_origins) {
      if (allowed == "*" || absl::EqualsIgnoreCase(allowed, *origin)) origin_allowed = true;  // Hosts are case-blind.
    }
    if (origin_allowed) {
      headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
      headers.emplace_back("Vary", "Origin");
      headers.emplace_back("Access-Control-Expose-Headers", kExposedHeaders);
    }
  }
  if (request.method == "OPTIONS") {
    if (!origin_allowed) {
      return Reject(std::move(respond), 403, "permission_denied",
                    origin.has_value() ? absl::StrCat("origin ", *origin, " is not allowed (http_cors_allowed_origins)")
                                       : "OPTIONS is a CORS preflight and needs an Origin header",
                    {});
    }
    HttpResponse preflight;
    preflight.status = 204;
    preflight.headers = std::move(headers);
    preflight.headers.emplace_back("Access-Control-Allow-Methods", "POST");
    preflight.headers.emplace_back("Access-Control-Allow-Headers", kAllowedHeaders);
    preflight.headers.emplace_back("Access-Control-Max-Age", "7200");
    return std::move(respond)(std::move(preflight));
  }

  auto found = methods_.find(request.path);
  if (found == methods_.end()) {
    return Reject(std::move(respond), 404, "unimplemented",
                  absl::StrCat("no method at ", request.path, "; served: ", method_list_), std::move(headers));
  }
  const Method& method = found->second;
  if (request.method != "POST") {
    headers.emplace_back("Allow", "POST");
    return Reject(std::move(respond), 405, "unimplemented",
                  absl::StrCat(request.method, " is not served; call ", method.path, " with POST"), std::move(headers));
  }
  const absl::string_view content_type = request.Header("content-type").value_or("");
  const absl::string_view media = absl::StripAsciiWhitespace(content_type.substr(0, content_type.find(';')));
  Encoding encoding;
  if (absl::EqualsIgnoreCase(media, "application/proto")) {
    encoding = Encoding::kProto;
  } else if (absl::EqualsIgnoreCase(media, "application/json")) {
    encoding = Encoding::kJson;
    const size_t semicolon = content_type.find(';');
    if (semicolon != absl::string_view::npos) {
      const std::string parameters = absl::AsciiStrToLower(content_type.substr(semicolon + 1));
      if (absl::StrContains(parameters, "charset") && !absl::StrContains(parameters, "utf-8")) {
        headers.emplace_back("Accept-Post", "application/json, application/proto");
        return Reject(std::move(respond), 415, "internal", "JSON must be UTF-8", std::move(headers));
      }
    }
  } else {
    headers.emplace_back("Accept-Post", "application/json, application/proto");
    return Reject(std::move(respond), 415, "internal",
                  absl::StrCat("Content-Type \"", content_type,
                               "\" is not served; send application/json or application/proto"),
                  std::move(headers));
  }
  if (auto coding = request.Header("content-encoding"); coding.has_value() && *coding != "identity") {
    headers.emplace_back("Accept-Encoding", "identity");
    return Reject(std::move(respond), 501, "unimplemented",
                  absl::StrCat("Content-Encoding \"", *coding, "\" is not supported; send identity"),
                  std::move(headers));
  }
  if (auto version = request.Header("connect-protocol-version"); version.has_value() && *version != "1") {
    return Reject(std::move(respond), 400, "invalid_argument",
                  absl::StrCat("Connect-Protocol-Version \"", *version, "\" is not supported; send 1"),
                  std::move(headers));
  }
  std::optional<int64_t> timeout_ms;
  if (auto timeout = request.Header("connect-timeout-ms"); timeout.has_value()) {
    int64_t ms = 0;
    // The protocol: a positive integer of at most 10 digits.
    bool ok = !timeout->empty() && timeout->size() <= 10;
    for (char c : *timeout) ok = ok && c >= '0' && c <= '9';
    if (ok) {
      for (char c : *timeout) ms = ms * 10 + (c - '0');
    }
    if (!ok || ms == 0) {
      return Reject(std::move(respond), 400, "invalid_argument",
                    absl::StrCat("Connect-Timeout-Ms \"", *timeout,
                                 "\" is not a positive number of milliseconds (at most 10 digits)"),
                    std::move(headers));
    }
    timeout_ms = ms;
  }

  auto call = std::make_unique<Call>();
  call->method = &method;
  call->encoding = encoding;
  call->headers = std::move(headers);
  if (encoding == Encoding::kProto) {
    // The body's bytes become the call's message without a copy.
    auto* body = new std::string(std::move(request.body));
    grpc::Slice slice(body->data(), body->size(), [](void* p) { delete static_cast<std::string*>(p); }, body);
    call->request = grpc::ByteBuffer(&slice, 1);
  } else if (std::string fast; json_wire_->Parse(method.request_prototype->GetDescriptor(), request.body, &fast)) {
    grpc::Slice slice(fast);
    call->request = grpc::ByteBuffer(&slice, 1);
  } else {
    std::unique_ptr<google::protobuf::Message> message(method.request_prototype->New());
    google::protobuf::util::JsonParseOptions parse;
    parse.ignore_unknown_fields = false;
    const google::protobuf::util::Status parsed =
        google::protobuf::util::JsonStringToMessage(request.body, message.get(), parse);
    if (!parsed.ok()) {
      return Reject(std::move(respond), 400, "invalid_argument",
                    absl::StrCat("request body is not a valid JSON ", message->GetTypeName(), ": ",
                                 absl::string_view(parsed.message().data(), parsed.message().size())),
                    std::move(call->headers));
    }
    const std::string bytes = message->SerializeAsString();
    grpc::Slice slice(bytes);
    call->request = grpc::ByteBuffer(&slice, 1);
  }
  if (timeout_ms.has_value()) {
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(*timeout_ms));
  }
  if (auto id = request.Header("x-request-id"); id.has_value() && !id->empty() && PrintableAscii(*id)) {
    call->request_id = std::string(*id);
    call->context.AddMetadata("x-request-id", call->request_id);
  }
  call->respond = std::move(respond);
  {
    absl::MutexLock lock(&mu_);
    ++calls_;
  }
  Call* raw = call.release();
  stub_.UnaryCall(&raw->context, method.path, grpc::StubOptions(), &raw->request, &raw->response,
                  [this, raw](grpc::Status status) { Finished(raw, status); });
}

void ConnectService::Finished(Call* raw, const grpc::Status& status) {
  std::unique_ptr<Call> call(raw);
  HttpResponse response;
  response.headers = std::move(call->headers);
  for (const auto& [key, value] : call->context.GetServerInitialMetadata()) {
    response.headers.emplace_back(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  bool request_id_sent = false;
  for (const auto& [key, value] : call->context.GetServerTrailingMetadata()) {
    const absl::string_view name(key.data(), key.size());
    request_id_sent = request_id_sent || name == "x-request-id";
    response.headers.emplace_back(absl::StrCat("trailer-", name), std::string(value.data(), value.size()));
  }
  // A call that ended on this side (its deadline) has no trailers: the
  // caller still gets its own request id back.
  if (!request_id_sent && !call->request_id.empty()) {
    response.headers.emplace_back("trailer-x-request-id", call->request_id);
  }
  grpc::Status outcome = status;
  if (outcome.ok()) {
    // The answer's bytes: its one slice as it is (the usual case), else joined.
    grpc::Slice single;
    std::string joined;
    absl::string_view bytes;
    if (call->response.TrySingleSlice(&single).ok()) {
      bytes = absl::string_view(reinterpret_cast<const char*>(single.begin()), single.size());
    } else {
      std::vector<grpc::Slice> slices;
      if (call->response.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      bytes = joined;
    }
    if (call->encoding == Encoding::kProto) {
      response.headers.emplace_back("Content-Type", "application/proto");
      response.body.assign(bytes.data(), bytes.size());
    } else {
      std::unique_ptr<google::protobuf::Message> message(call->method->response_prototype->New());
      std::string problem = "the answer does not parse";
      // JSON is ~1.3 times the encoding for products: room for it at once
      // (growing a 76 KB string copies it).
      response.body.reserve(bytes.size() + bytes.size() / 2 + 64);
      WireJson::MemoUse memo;
      if (wire_json_->Write(message->GetDescriptor(), bytes, &response.body, &memo)) {
        problem.clear();
        if (memo.hits > 0) metrics_->Add(storage::Counter::http_json_cache_hits_total, memo.hits);
        if (memo.misses > 0) {
          metrics_->Add(storage::Counter::http_json_cache_misses_total, memo.misses);
          metrics_->Set(storage::Gauge::http_json_cache_bytes, json_memo_->bytes());  // Misses need a memo.
        }
      } else if (response.body.clear(), message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        const google::protobuf::util::Status printed =
            google::protobuf::util::MessageToJsonString(*message, &response.body);
        problem = printed.ok() ? "" : std::string(printed.message().data(), printed.message().size());
      }
      if (problem.empty()) {
        response.headers.emplace_back("Content-Type", "application/json");
      } else {
        outcome = grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("cannot write the answer as JSON: ", problem));
      }
    }
  }
  if (!outcome.ok()) {
    response.status = ConnectHttpStatus(outcome.error_code());
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = ConnectErrorJson(ConnectCodeName(outcome.error_code()), outcome.error_message());
  }
  std::move(call->respond)(std::move(response));
  call.reset();
  absl::MutexLock lock(&mu_);
  --calls_;
}

}  // namespace catalog::service

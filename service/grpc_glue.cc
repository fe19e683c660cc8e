#include "service/grpc_glue.h"

#include <grpc/support/time.h>

#include "absl/strings/str_format.h"

namespace catalog::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Time CallDeadline(const grpc::ServerContextBase& context, absl::Duration max_call) {
  const absl::Time cap = absl::Now() + max_call;
  const gpr_timespec raw = context.raw_deadline();
  if (gpr_time_cmp(raw, gpr_inf_future(raw.clock_type)) == 0) return cap;
  const gpr_timespec real = gpr_convert_clock_type(raw, GPR_CLOCK_REALTIME);
  return std::min(cap, absl::FromUnixSeconds(real.tv_sec) + absl::Nanoseconds(real.tv_nsec));
}

absl::string_view ClientMetadataValue(const grpc::ServerContextBase& context, absl::string_view key) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  return it == metadata.end() ? absl::string_view() : absl::string_view(it->second.data(), it->second.size());
}

CallRecord::CallRecord(const CallObservers& observers, grpc::ServerContextBase* context, absl::string_view method)
    : observers_(observers),
      context_(context),
      method_(method),
      start_(absl::Now()),
      request_id_(RequestIdFor(ClientMetadataValue(*context, "x-request-id"))) {
  observers_.metrics->Add(storage::Counter::rpc_requests_total);
  // In the trailers, not the headers: gRPC clients commit a call once they
  // see response headers and then no longer retry it, so an id in the
  // headers would turn off every client's transparent retry of UNAVAILABLE
  // (clients/cpp's test of its retry policy caught exactly that).
  context_->AddTrailingMetadata("x-request-id", request_id_);
}

grpc::Status CallRecord::Finish(const absl::Status& status) {
  if (admitted_) {
    observers_.metrics->Add(storage::Gauge::rpc_in_flight, -1);
    admitted_ = false;
  }
  const absl::Duration took = absl::Now() - start_;
  if (!status.ok()) {
    observers_.metrics->Add(storage::Counter::rpc_errors_total);
    if (absl::IsInvalidArgument(status)) observers_.metrics->Add(storage::Counter::rpc_invalid_argument_total);
  }
  if (observers_.rpc != nullptr) observers_.rpc->For(method_, status.code())->Observe(took);
  const bool callers_mistake = absl::IsInvalidArgument(status) || absl::IsNotFound(status) || absl::IsAborted(status);
  const LogLevel level = status.ok() || callers_mistake || rejected_ ? LogLevel::kDebug : LogLevel::kWarning;
  // One call in access_log_every, counted per thread (no shared counter).
  thread_local int64_t calls = 0;
  const bool access = observers_.access_log_every > 0 && ++calls % observers_.access_log_every == 0 &&
                      observers_.logger->Enabled(LogChannel::kAccess, LogLevel::kInfo);
  const bool rpc_line = observers_.logger->Enabled(LogChannel::kRpc, level);
  if (rpc_line || access) {
    const RequestIdScope scope(request_id_);
    const std::string code(absl::StatusCodeToString(status.code()));
    const std::string ms = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(took));
    if (rpc_line) {
      observers_.logger->Log(LogChannel::kRpc, level,
                             status.ok() ? absl::StrCat(method_, " OK") : absl::StrCat(method_, " ", code, ": ",
                                                                                       status.message()),
                             {{"method", method_}, {"code", code}, {"duration_ms", ms}});
    }
    if (access) {
      observers_.logger->Log(LogChannel::kAccess, LogLevel::kInfo, absl::StrCat(method_, " ", code),
                             {{"method", method_},
                              {"code", code},
                              {"duration_ms", ms},
                              {"peer", context_->peer()},
                              {"sampled_one_in", absl::StrCat(observers_.access_log_every)}});
    }
  }
  return ToGrpcStatus(status);
}

RpcMetrics::RpcMetrics(storage::Metrics* metrics, const std::vector<std::string>& methods)
    : unknown_(std::make_unique<Row>(metrics, storage::HistogramFamily::rpc_duration_seconds,
                                     std::vector<std::string>{"unknown", "unknown"})) {
  for (const std::string& method : methods) {
    const size_t slash = method.rfind('/');
    const std::string service = slash == std::string::npos ? "" : method.substr(0, slash);
    rows_[method] = std::make_unique<Row>(metrics, storage::HistogramFamily::rpc_duration_seconds,
                                          std::vector<std::string>{service, method.substr(slash + 1)});
  }
}

storage::HistogramSeries* RpcMetrics::For(absl::string_view method, absl::StatusCode code) {
  const auto it = rows_.find(method);
  Row& row = it != rows_.end() ? *it->second : *unknown_;
  const int index = static_cast<int>(code);
  // Codes are 0..16; anything else (never produced) shares UNKNOWN's series.
  if (index < 0 || index > 16) return row.At(2, absl::StatusCodeToString(absl::StatusCode::kUnknown));
  return row.At(static_cast<size_t>(index), absl::StatusCodeToString(code));
}

}  // namespace catalog::service

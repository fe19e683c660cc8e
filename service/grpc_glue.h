// The seam between absl and gRPC: the one mapping from absl::Status to
// grpc::Status, deadline conversion and per-call instrumentation.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "service/logger.h"
#include "storage/metrics.h"

namespace catalog::service {

// absl and gRPC share canonical codes; the message is kept verbatim.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The call's deadline, capped at now + max_call (also used when the caller
// set none).
absl::Time CallDeadline(const grpc::ServerContextBase& context, absl::Duration max_call);

// What every handler shares: metrics, the log and the admission limit.
struct CallObservers {
  storage::Metrics* metrics;
  const Logger* logger;
  // Calls handled at once before RESOURCE_EXHAUSTED (0: no limit).
  int64_t max_in_flight = 0;
};

// One call's bookkeeping, for handlers that finish on another thread
// (callback methods): Admit() when the call starts, Finish() once when it
// ends. Counts the call, its failures and its duration, and logs it:
// failures the server is responsible for at WARNING with their message,
// callers' mistakes (INVALID_ARGUMENT, NOT_FOUND, ABORTED), overload
// rejections (counted, not logged one by one: under overload that would add
// load) and every call's timing at DEBUG.
//
// Admission: a call arriving while max_in_flight calls run is refused with
// RESOURCE_EXHAUSTED at once (never queued), so overload shows up as a fast,
// retryable error instead of growing latency and pool timeouts for all.
class CallRecord {
 public:
  CallRecord(const CallObservers& observers, absl::string_view method)
      : observers_(observers), method_(method), start_(absl::Now()) {
    observers_.metrics->Add(storage::Counter::rpc_requests_total);
  }
  // The call's slot is released by Finish(); a record destroyed without it
  // (an exception) releases it too.
  ~CallRecord() {
    if (admitted_) observers_.metrics->Add(storage::Gauge::rpc_in_flight, -1);
  }
  CallRecord(const CallRecord&) = delete;
  CallRecord& operator=(const CallRecord&) = delete;

  // OK, or the RESOURCE_EXHAUSTED to answer with.
  absl::Status Admit() {
    admitted_ = observers_.metrics->IncrementBelow(storage::Gauge::rpc_in_flight, observers_.max_in_flight);
    if (admitted_) return absl::OkStatus();
    rejected_ = true;
    observers_.metrics->Add(storage::Counter::rpc_overload_rejections_total);
    return absl::ResourceExhaustedError(absl::StrCat("server busy: ", observers_.max_in_flight,
                                                     " calls in flight (max_in_flight_calls); retry with backoff"));
  }

  grpc::Status Finish(const absl::Status& status) {
    if (admitted_) {
      observers_.metrics->Add(storage::Gauge::rpc_in_flight, -1);
      admitted_ = false;
    }
    const absl::Duration took = absl::Now() - start_;
    if (!status.ok()) {
      observers_.metrics->Add(storage::Counter::rpc_errors_total);
      if (absl::IsInvalidArgument(status)) observers_.metrics->Add(storage::Counter::rpc_invalid_argument_total);
    }
    observers_.metrics->Observe(storage::Histogram::rpc_duration_seconds, took);
    const bool callers_mistake = absl::IsInvalidArgument(status) || absl::IsNotFound(status) || absl::IsAborted(status);
    const LogLevel level = status.ok() || callers_mistake || rejected_ ? LogLevel::kDebug : LogLevel::kWarning;
    if (observers_.logger->Enabled(level)) {
      observers_.logger->Log(level, "rpc",
                             absl::StrCat(method_, " ", absl::StatusCodeToString(status.code()), " ",
                                          absl::FormatDuration(took), status.ok() ? "" : ": ", status.message()));
    }
    return ToGrpcStatus(status);
  }

 private:
  const CallObservers& observers_;
  const absl::string_view method_;
  const absl::Time start_;
  bool admitted_ = false;
  bool rejected_ = false;
};

// Runs a synchronous handler for `method` inside a CallRecord.
template <typename Handler>
grpc::Status Instrumented(const CallObservers& observers, absl::string_view method, Handler handler) {
  CallRecord record(observers, method);
  absl::Status status = record.Admit();
  if (status.ok()) status = handler();
  return record.Finish(status);
}

}  // namespace catalog::service

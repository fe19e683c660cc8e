// The seam between absl and gRPC: the one mapping from absl::Status to
// grpc::Status, deadline conversion and per-call instrumentation.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/cleanup/cleanup.h"
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
absl::Time CallDeadline(const grpc::ServerContext& context, absl::Duration max_call);

// What every handler shares: metrics, the log and the admission limit.
struct CallObservers {
  storage::Metrics* metrics;
  const Logger* logger;
  // Calls handled at once before RESOURCE_EXHAUSTED (0: no limit).
  int64_t max_in_flight = 0;
};

// Runs a handler for `method`, counting the call, its failures and its
// duration, and logging it: failures the server is responsible for at
// WARNING with their message, callers' mistakes (INVALID_ARGUMENT,
// NOT_FOUND, ABORTED) and every call's timing at DEBUG.
//
// Admission: a call arriving while max_in_flight calls run is answered
// RESOURCE_EXHAUSTED at once (never queued), so overload shows up as a fast,
// retryable error instead of growing latency and pool timeouts for all.
template <typename Handler>
grpc::Status Instrumented(const CallObservers& observers, absl::string_view method, Handler handler) {
  const absl::Time start = absl::Now();
  observers.metrics->Add(storage::Counter::rpc_requests_total);
  absl::Status status;
  const bool rejected = !observers.metrics->IncrementBelow(storage::Gauge::rpc_in_flight, observers.max_in_flight);
  if (rejected) {
    observers.metrics->Add(storage::Counter::rpc_overload_rejections_total);
    status = absl::ResourceExhaustedError(absl::StrCat("server busy: ", observers.max_in_flight,
                                                       " calls in flight (max_in_flight_calls); retry with backoff"));
  } else {
    // Released however the handler ends (an exception becomes UNKNOWN in
    // gRPC and must not leak a slot).
    absl::Cleanup release = [&] { observers.metrics->Add(storage::Gauge::rpc_in_flight, -1); };
    status = handler();
  }
  const absl::Duration took = absl::Now() - start;
  if (!status.ok()) {
    observers.metrics->Add(storage::Counter::rpc_errors_total);
    if (absl::IsInvalidArgument(status)) observers.metrics->Add(storage::Counter::rpc_invalid_argument_total);
  }
  observers.metrics->Observe(storage::Histogram::rpc_duration_seconds, took);
  // Overload rejections are counted, not logged one by one: under overload
  // that would add load.
  const bool callers_mistake = absl::IsInvalidArgument(status) || absl::IsNotFound(status) || absl::IsAborted(status);
  const LogLevel level = status.ok() || callers_mistake || rejected ? LogLevel::kDebug : LogLevel::kWarning;
  if (observers.logger->Enabled(level)) {
    observers.logger->Log(level, "rpc",
                          absl::StrCat(method, " ", absl::StatusCodeToString(status.code()), " ",
                                       absl::FormatDuration(took), status.ok() ? "" : ": ", status.message()));
  }
  return ToGrpcStatus(status);
}

}  // namespace catalog::service

// The seam between absl and gRPC: the one mapping from absl::Status to
// grpc::Status, deadline conversion and per-call instrumentation.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/metrics.h"

namespace catalog::service {

// absl and gRPC share canonical codes; the message is kept verbatim.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The call's deadline, capped at now + max_call (also used when the caller
// set none).
absl::Time CallDeadline(const grpc::ServerContext& context, absl::Duration max_call);

// Runs a handler, counting the call, its failures and its duration.
template <typename Handler>
grpc::Status Instrumented(storage::Metrics& metrics, Handler handler) {
  const absl::Time start = absl::Now();
  metrics.Add(storage::Counter::rpc_requests_total);
  const absl::Status status = handler();
  if (!status.ok()) {
    metrics.Add(storage::Counter::rpc_errors_total);
    if (absl::IsInvalidArgument(status)) metrics.Add(storage::Counter::rpc_invalid_argument_total);
  }
  metrics.Observe(storage::Histogram::rpc_duration_seconds, absl::Now() - start);
  return ToGrpcStatus(status);
}

}  // namespace catalog::service

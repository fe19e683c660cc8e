// The seam between absl and gRPC: the one mapping from absl::Status to
// grpc::Status, deadline conversion and per-call instrumentation.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "service/logger.h"
#include "storage/metrics.h"

namespace catalog::service {

// absl and gRPC share canonical codes; the message is kept verbatim.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The caller's metadata value under `key` (lower case), empty if absent;
// valid while the call is.
absl::string_view ClientMetadataValue(const grpc::ServerContextBase& context, absl::string_view key);

// The call's deadline, capped at now + max_call (also used when the caller
// set none).
absl::Time CallDeadline(const grpc::ServerContextBase& context, absl::Duration max_call);

// catalog_rpc_duration_seconds{service,method,code}: one row of series per
// method named at construction (full names "package.Service/Method"), one
// series per status code the method has answered. The table is read-only
// after construction and each row lock-free after a code's first use, so a
// call's bookkeeping takes no lock. Thread-safe.
class RpcMetrics {
 public:
  // `metrics` must outlive this.
  RpcMetrics(storage::Metrics* metrics, const std::vector<std::string>& methods);
  // The series of `method` answering `code`. A method not named at
  // construction is counted under service="unknown", method="unknown".
  storage::HistogramSeries* For(absl::string_view method, absl::StatusCode code);

 private:
  using Row = storage::SeriesRow<storage::HistogramSeries, storage::HistogramFamily, 17>;
  absl::flat_hash_map<std::string, std::unique_ptr<Row>> rows_;
  std::unique_ptr<Row> unknown_;
};

// What every handler shares: metrics, the log and the admission limit.
struct CallObservers {
  storage::Metrics* metrics;
  const Logger* logger;
  // Calls handled at once before RESOURCE_EXHAUSTED (0: no limit).
  int64_t max_in_flight = 0;
  // Per-method latency and codes; null: not recorded (unit tests).
  RpcMetrics* rpc = nullptr;
  // One call in this many gets an access line (0: none).
  int64_t access_log_every = 0;
};

// One call's bookkeeping, for handlers that finish on another thread
// (callback methods): Admit() when the call starts, Finish() once when it
// ends. Counts the call, its failures and its duration, and logs it:
// failures the server is responsible for at WARNING with their message,
// callers' mistakes (INVALID_ARGUMENT, NOT_FOUND, ABORTED), overload
// rejections (counted, not logged one by one: under overload that would add
// load) and every call's timing at DEBUG; one call in access_log_every on
// the access channel.
//
// Request id: the caller's x-request-id metadata if usable, else a new one
// (RequestIdFor); sent back as x-request-id trailing metadata and written in
// the call's log lines. The handler's thread carries it in a
// RequestIdScope (Instrumented, RawRead), Finish() on whatever thread ends
// the call.
//
// Admission: a call arriving while max_in_flight calls run is refused with
// RESOURCE_EXHAUSTED at once (never queued), so overload shows up as a fast,
// retryable error instead of growing latency and pool timeouts for all.
class CallRecord {
 public:
  // `context` must outlive the record's Finish().
  CallRecord(const CallObservers& observers, grpc::ServerContextBase* context, absl::string_view method);
  // The call's slot is released by Finish(); a record destroyed without it
  // (an exception) releases it too.
  ~CallRecord() {
    if (admitted_) observers_.metrics->Add(storage::Gauge::rpc_in_flight, -1);
  }
  CallRecord(const CallRecord&) = delete;
  CallRecord& operator=(const CallRecord&) = delete;

  const std::string& request_id() const { return request_id_; }

  // OK, or the RESOURCE_EXHAUSTED to answer with.
  absl::Status Admit() {
    admitted_ = observers_.metrics->IncrementBelow(storage::Gauge::rpc_in_flight, observers_.max_in_flight);
    if (admitted_) return absl::OkStatus();
    rejected_ = true;
    observers_.metrics->Add(storage::Counter::rpc_overload_rejections_total);
    return absl::ResourceExhaustedError(absl::StrCat("server busy: ", observers_.max_in_flight,
                                                     " calls in flight (max_in_flight_calls); retry with backoff"));
  }

  grpc::Status Finish(const absl::Status& status);

 private:
  const CallObservers& observers_;
  grpc::ServerContextBase* const context_;
  const absl::string_view method_;
  const absl::Time start_;
  const std::string request_id_;
  bool admitted_ = false;
  bool rejected_ = false;
};

// Runs a synchronous handler for `method` inside a CallRecord, its thread
// carrying the call's request id.
template <typename Handler>
grpc::Status Instrumented(const CallObservers& observers, grpc::ServerContextBase* context, absl::string_view method,
                          Handler handler) {
  CallRecord record(observers, context, method);
  const RequestIdScope scope(record.request_id());
  absl::Status status = record.Admit();
  if (status.ok()) status = handler();
  return record.Finish(status);
}

}  // namespace catalog::service

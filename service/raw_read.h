// RawRead: the frame of a read served as a callback raw method (the
// request and response are ByteBuffers; the answer is encoded straight from
// stored bytes, see service/encoded_batch_response.h, service/wire_mask.h).
//
// Threading: gRPC calls the handler on one of its callback threads. It
// parses the request, admits the call and starts the read, which returns
// at once; the read's completion (on the thread that has the data: the same
// thread for L1 hits, a Redis event-loop thread for hot reads, a cold-read
// thread for misses) encodes the answer and finishes the reactor. No thread
// waits for another; every read is bounded by the call's deadline (see
// storage/tiering/tiered_store.h and storage/redis/redis_async.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/grpc_glue.h"
#include "service/unary_handler.h"
#include "storage/tiering/tiered_store.h"

namespace catalog::service {

// Ends one raw call once, from any thread.
class RawFinish {
 public:
  RawFinish(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* response, std::shared_ptr<CallRecord> record)
      : reactor_(reactor), response_(response), record_(std::move(record)) {}
  void operator()(absl::StatusOr<grpc::ByteBuffer> answer) const {
    if (answer.ok()) *response_ = *std::move(answer);
    reactor_->Finish(record_->Finish(answer.status()));
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  grpc::ByteBuffer* response_;
  std::shared_ptr<CallRecord> record_;
};

// A batch read request (catalog.v1 or v2 BatchGetProductsRequest): field 1
// `ids`, and in v2 field 2 `read_mask` and field 3 `consistency`. The ids
// become views into one copy of the request bytes (no string per id);
// `mask` gets field 2's bytes, `consistency` (if given) field 3's value (the
// last one, as protobuf; 0 when absent). False when the bytes are not such
// a message, or when an id is not ASCII (proto3 would check its UTF-8: the
// caller parses typed to answer alike).
bool ParseBatchRequest(const grpc::ByteBuffer& request, storage::IdBatch* batch, std::string* mask,
                       uint64_t* consistency = nullptr);

// Bad request bytes are answered as UnaryHandler answers them, before
// admission; then `start(Parsed& parsed, RawFinish finish)` runs, and must
// lead to exactly one call of `finish`. `parse(request, &parsed)` returns
// whether the bytes were a Request.
template <typename Request, typename Parsed, typename Parse, typename Start>
grpc::ServerUnaryReactor* RawRead(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response, const CallObservers& observers,
                                  absl::string_view method, Parse parse, Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!request->Valid()) {
    reactor->Finish(NoRequestMessage());
    return reactor;
  }
  Parsed parsed;
  if (!parse(*request, &parsed)) {
    reactor->Finish(UnparsableRequest(Request::descriptor()->full_name()));
    return reactor;
  }
  auto record = std::make_shared<CallRecord>(observers, context, method);
  if (absl::Status admitted = record->Admit(); !admitted.ok()) {
    reactor->Finish(record->Finish(admitted));
    return reactor;
  }
  // A copy: the call may end (and its record go) on another thread while
  // this one still runs start().
  const std::string request_id = record->request_id();
  const RequestIdScope scope(request_id);
  start(parsed, RawFinish(reactor, response, std::move(record)));
  return reactor;
}

// Parses `bytes` as the generated message.
template <typename Request>
bool ParseTyped(const grpc::ByteBuffer& bytes, Request* parsed) {
  grpc::ByteBuffer shared(bytes);  // Shares the slices.
  return grpc::SerializationTraits<Request>::Deserialize(&shared, parsed).ok();
}

// The common case: the request parsed as its generated message.
template <typename Request, typename Start>
grpc::ServerUnaryReactor* RawRead(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response, const CallObservers& observers,
                                  absl::string_view method, Start start) {
  return RawRead<Request, Request>(context, request, response, observers, method, ParseTyped<Request>, start);
}

template <typename T, typename = void>
struct HasReadMask : std::false_type {};
template <typename T>
struct HasReadMask<T, std::void_t<decltype(std::declval<T>().read_mask())>> : std::true_type {};

// A batch read: ids as views (ParseBatchRequest), falling back to the
// generated message for what that parser refuses, so every request gets
// exactly the typed handlers' answer. `start(BatchRequest&, RawFinish)`.
struct BatchRequest {
  std::shared_ptr<storage::IdBatch> ids = std::make_shared<storage::IdBatch>();
  std::string mask;          // Field 2's bytes (v2 read_mask).
  uint64_t consistency = 0;  // Field 3 (v2 ReadConsistency).
};
template <typename Request, typename Start>
grpc::ServerUnaryReactor* RawBatchRead(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response, const CallObservers& observers,
                                       absl::string_view method, Start start) {
  return RawRead<Request, BatchRequest>(
      context, request, response, observers, method,
      [](const grpc::ByteBuffer& bytes, BatchRequest* parsed) {
        if (ParseBatchRequest(bytes, parsed->ids.get(), &parsed->mask, &parsed->consistency)) return true;
        Request typed;
        if (!ParseTyped(bytes, &typed)) return false;
        parsed->ids = storage::IdBatch::Copy(std::vector<std::string>(typed.ids().begin(), typed.ids().end()));
        parsed->mask.clear();
        if constexpr (HasReadMask<Request>::value) {
          parsed->mask = typed.read_mask().SerializeAsString();
          parsed->consistency = static_cast<uint64_t>(typed.consistency());
        }
        return true;
      },
      start);
}

}  // namespace catalog::service

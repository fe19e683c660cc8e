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
// storage/tiered_store.h and storage/redis_async.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/grpc_glue.h"
#include "service/unary_handler.h"

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

// Bad request bytes are answered as UnaryHandler answers them, before
// admission; then `start(Request& parsed, RawFinish finish)` runs, and must
// lead to exactly one call of `finish`.
template <typename Request, typename Start>
grpc::ServerUnaryReactor* RawRead(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response, const CallObservers& observers,
                                  absl::string_view method, Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request parsed;
  grpc::ByteBuffer bytes(*request);  // Shares the slices.
  if (!request->Valid()) {
    reactor->Finish(NoRequestMessage());
    return reactor;
  }
  if (!grpc::SerializationTraits<Request>::Deserialize(&bytes, &parsed).ok()) {
    reactor->Finish(UnparsableRequest(parsed.GetTypeName()));
    return reactor;
  }
  auto record = std::make_shared<CallRecord>(observers, method);
  if (absl::Status admitted = record->Admit(); !admitted.ok()) {
    reactor->Finish(record->Finish(admitted));
    return reactor;
  }
  start(parsed, RawFinish(reactor, response, std::move(record)));
  return reactor;
}

}  // namespace catalog::service

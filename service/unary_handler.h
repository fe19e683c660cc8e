// UnaryHandler: a sync unary gRPC method handler, like gRPC's own
// RpcMethodHandler but answering a request body that does not parse with
// INVALID_ARGUMENT naming the expected message (gRPC's says INTERNAL with an
// empty message, which reads like a server fault to a frontend engineer).
//
// Response may be a protobuf message or any type with grpc::
// SerializationTraits (EncodedBatchResponse).
//
// Thread-safety: RunHandler/Deserialize run concurrently for different calls;
// the handler only holds immutable pointers.
#pragma once

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/method_handler.h>

#include <string>
#include <type_traits>

namespace catalog::service {

// What a call whose request bytes are missing or do not parse is answered,
// by every handler (sync or callback).
inline grpc::Status NoRequestMessage() {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request message");
}
inline grpc::Status UnparsableRequest(const std::string& type_name) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request body is not a valid " + type_name + " message");
}

template <class Service, class Request, class Response>
class UnaryHandler final : public grpc::internal::MethodHandler {
 public:
  using Method = grpc::Status (Service::*)(grpc::ServerContext*, const Request*, Response*);

  UnaryHandler(Service* service, Method method) : service_(service), method_(method) {}

  void RunHandler(const HandlerParameter& param) final {
    Response response;
    grpc::Status status = param.status;
    if (status.ok()) {
      auto* request = static_cast<Request*>(param.request);
      status = (service_->*method_)(static_cast<grpc::ServerContext*>(param.server_context), request, &response);
      request->~Request();
    }
    // Protobuf responses serialize through MessageLite's traits, as in
    // generated code; others through their own.
    using Wire = std::conditional_t<std::is_base_of_v<google::protobuf::MessageLite, Response>,
                                    google::protobuf::MessageLite, Response>;
    grpc::internal::UnaryRunHandlerHelper(param, static_cast<Wire*>(&response), status);
  }

  void* Deserialize(grpc_call* call, grpc_byte_buffer* raw, grpc::Status* status, void** /*handler_data*/) final {
    if (raw == nullptr) {
      *status = NoRequestMessage();
      return nullptr;
    }
    auto* request = new (grpc::g_core_codegen_interface->grpc_call_arena_alloc(call, sizeof(Request))) Request;
    // The handler owns `raw` (gRPC's own handlers free it after parsing).
    bool parsed = false;
    grpc_byte_buffer_reader reader;
    if (grpc_byte_buffer_reader_init(&reader, raw)) {
      grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
      grpc_byte_buffer_reader_destroy(&reader);
      parsed = request->ParseFromArray(GRPC_SLICE_START_PTR(slice), static_cast<int>(GRPC_SLICE_LENGTH(slice)));
      grpc_slice_unref(slice);
    }
    grpc_byte_buffer_destroy(raw);
    if (parsed) {
      *status = grpc::Status::OK;
      return request;
    }
    *status = UnparsableRequest(request->GetTypeName());
    request->~Request();
    return nullptr;
  }

 private:
  Service* const service_;
  const Method method_;
};

}  // namespace catalog::service

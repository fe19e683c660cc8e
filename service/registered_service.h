// RegisteredService: a grpc::Service whose unary methods are registered by
// hand (like generated code does), each with a UnaryHandler: malformed
// request bodies get INVALID_ARGUMENT, and a response may be a type with its
// own serialization (EncodedBatchResponse). Method paths and request types
// are checked against the generated service descriptor at construction, so
// reflection and generated clients see exactly the proto's service.
//
// Thread-safety: registration happens in the constructor of the derived
// class, before the service is added to a server.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/service_type.h>

#include <cstdlib>
#include <deque>
#include <functional>
#include <string>

#include "google/protobuf/descriptor.h"
#include "service/unary_handler.h"

namespace catalog::service {

class RegisteredService : public grpc::Service {
 protected:
  explicit RegisteredService(const google::protobuf::ServiceDescriptor* descriptor) : descriptor_(descriptor) {}

  template <class Service, class Request, class Response>
  void Register(const char* method, grpc::Status (Service::*handler)(grpc::ServerContext*, const Request*, Response*)) {
    const google::protobuf::MethodDescriptor* found = descriptor_->FindMethodByName(method);
    // A name or request type out of step with the proto is a build mistake.
    if (found == nullptr || found->input_type() != Request::descriptor()) std::abort();
    paths_.push_back("/" + descriptor_->full_name() + "/" + method);
    AddMethod(new grpc::internal::RpcServiceMethod(
        paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
        new UnaryHandler<Service, Request, Response>(static_cast<Service*>(this), handler)));
  }

  // A unary method served by the callback API on raw bytes: the handler
  // gets the request's ByteBuffer, fills the response's, and returns a
  // reactor it finishes later, from any thread (so it need not block one).
  using RawCallback = std::function<grpc::ServerUnaryReactor*(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                                              grpc::ByteBuffer*)>;
  // The same for a member function of the derived class.
  template <class Service>
  void RegisterRawCallback(const char* method,
                           grpc::ServerUnaryReactor* (Service::*handler)(grpc::CallbackServerContext*,
                                                                         const grpc::ByteBuffer*, grpc::ByteBuffer*)) {
    Service* service = static_cast<Service*>(this);
    RegisterRawCallback(method, RawCallback([service, handler](grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
                          return (service->*handler)(context, request, response);
                        }));
  }
  void RegisterRawCallback(const char* method, RawCallback handler) {
    const google::protobuf::MethodDescriptor* found = descriptor_->FindMethodByName(method);
    if (found == nullptr) std::abort();
    paths_.push_back("/" + descriptor_->full_name() + "/" + method);
    auto* rpc = new grpc::internal::RpcServiceMethod(
        paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(std::move(handler)));
    rpc->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::RAW_CALL_BACK);
    AddMethod(rpc);
  }

 private:
  const google::protobuf::ServiceDescriptor* const descriptor_;
  // gRPC keeps method paths as bare pointers: they live here.
  std::deque<std::string> paths_;
};

}  // namespace catalog::service

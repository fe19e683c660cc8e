// AdminService: catalog.admin.v1.CatalogAdminService (demotion, metrics),
// called by catalog-admin. Demotion runs under the caller's deadline, not
// max_call: a large keyspace takes a while, and demotion's safety does not
// depend on its own duration (it compares before deleting). It stops
// between batches when the caller cancels or the server is stopping.
//
// Served on the admin listener only (admin_listen_address), never on the
// public port. With a token, every call must carry the metadata
// `authorization: Bearer <token>`; others get UNAUTHENTICATED and do nothing.
#pragma once

#include <atomic>
#include <string>

#include "catalog/admin/v1/admin.grpc.pb.h"
#include "service/catalog_core.h"
#include "service/grpc_glue.h"

namespace catalog::service {

class AdminService final : public catalog::admin::v1::CatalogAdminService::Service {
 public:
  // Does not take ownership. `stopping` turns true when the server stops.
  // `token` empty: calls need no token.
  AdminService(CatalogCore* core, CallObservers observers, const std::atomic<bool>* stopping, std::string token);

  grpc::Status Demote(grpc::ServerContext* context, const catalog::admin::v1::DemoteRequest* request,
                      catalog::admin::v1::DemoteResponse* response) override;
  grpc::Status GetMetrics(grpc::ServerContext* context, const catalog::admin::v1::GetMetricsRequest* request,
                          catalog::admin::v1::GetMetricsResponse* response) override;
  grpc::Status SetLogLevel(grpc::ServerContext* context, const catalog::admin::v1::SetLogLevelRequest* request,
                           catalog::admin::v1::SetLogLevelResponse* response) override;

 private:
  // OK if the call may proceed; UNAUTHENTICATED otherwise.
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  CatalogCore* const core_;
  const CallObservers observers_;
  const std::atomic<bool>* const stopping_;
  const std::string expected_authorization_;  // "Bearer <token>", or empty.
};

}  // namespace catalog::service

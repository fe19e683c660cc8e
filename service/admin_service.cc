#include "service/admin_service.h"

#include "service/grpc_glue.h"

namespace catalog::service {

using namespace catalog::admin::v1;

AdminService::AdminService(CatalogCore* core, CallObservers observers) : core_(core), observers_(observers) {}

grpc::Status AdminService::Demote(grpc::ServerContext* context, const DemoteRequest* request,
                                  DemoteResponse* response) {
  return Instrumented(observers_, "catalog.admin.v1.CatalogAdminService/Demote", [&]() -> absl::Status {
    absl::StatusOr<storage::DemoteResult> result =
        core_->Demote(request->idle_seconds(), request->limit(), CallDeadline(*context, absl::Hours(24)));
    if (!result.ok()) return result.status();
    response->set_scanned(result->scanned);
    response->set_demoted(result->demoted);
    response->set_tombstones_demoted(result->tombstones_demoted);
    response->set_skipped_changed(result->skipped_changed);
    observers_.logger->Log(
        LogLevel::kInfo, "admin",
        absl::StrCat("demote idle>=", request->idle_seconds(), "s limit=", request->limit(), ": scanned ",
                     result->scanned, ", demoted ", result->demoted, ", tombstones ", result->tombstones_demoted,
                     ", kept (changed meanwhile) ", result->skipped_changed));
    return absl::OkStatus();
  });
}

grpc::Status AdminService::GetMetrics(grpc::ServerContext*, const GetMetricsRequest*, GetMetricsResponse* response) {
  response->set_text(observers_.metrics->RenderPrometheusText());
  return grpc::Status::OK;
}

}  // namespace catalog::service

#include "service/admin_service.h"

#include "service/grpc_glue.h"

namespace catalog::service {

using namespace catalog::admin::v1;

AdminService::AdminService(CatalogCore* core, storage::Metrics* metrics) : core_(core), metrics_(metrics) {}

grpc::Status AdminService::Demote(grpc::ServerContext* context, const DemoteRequest* request,
                                  DemoteResponse* response) {
  return Instrumented(*metrics_, [&]() -> absl::Status {
    absl::StatusOr<storage::DemoteResult> result =
        core_->Demote(request->idle_seconds(), request->limit(), CallDeadline(*context, absl::Hours(24)));
    if (!result.ok()) return result.status();
    response->set_scanned(result->scanned);
    response->set_demoted(result->demoted);
    response->set_tombstones_demoted(result->tombstones_demoted);
    response->set_skipped_changed(result->skipped_changed);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::GetMetrics(grpc::ServerContext*, const GetMetricsRequest*, GetMetricsResponse* response) {
  response->set_text(metrics_->RenderPrometheusText());
  return grpc::Status::OK;
}

}  // namespace catalog::service

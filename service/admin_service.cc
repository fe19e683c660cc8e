#include "service/admin_service.h"

#include "absl/strings/str_join.h"
#include "service/grpc_glue.h"

namespace catalog::service {

using namespace catalog::admin::v1;

AdminService::AdminService(CatalogCore* core, CallObservers observers, const std::atomic<bool>* stopping,
                           std::string token)
    : core_(core),
      observers_(observers),
      stopping_(stopping),
      expected_authorization_(token.empty() ? std::string() : "Bearer " + token) {}

grpc::Status AdminService::Authorize(const grpc::ServerContext& context) const {
  if (expected_authorization_.empty()) return grpc::Status::OK;
  const absl::string_view given = ClientMetadataValue(context, "authorization");
  // Compared in time independent of where they differ, so the token cannot
  // be guessed byte by byte from response times.
  bool match = given.size() == expected_authorization_.size();
  if (match) {
    unsigned char diff = 0;
    for (size_t i = 0; i < expected_authorization_.size(); ++i) {
      diff |= static_cast<unsigned char>(given[i] ^ expected_authorization_[i]);
    }
    match = diff == 0;
  }
  if (match) return grpc::Status::OK;
  observers_.logger->Log(LogChannel::kAdmin, LogLevel::kWarning, "admin call refused: missing or wrong bearer token");
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "admin plane: missing or wrong bearer token (metadata authorization: Bearer <token>; "
                      "catalog-admin reads it from CATALOG_ADMIN_TOKEN or --token_file)");
}

grpc::Status AdminService::Demote(grpc::ServerContext* context, const DemoteRequest* request,
                                  DemoteResponse* response) {
  if (grpc::Status denied = Authorize(*context); !denied.ok()) return denied;
  return Instrumented(observers_, context, "catalog.admin.v1.CatalogAdminService/Demote", [&]() -> absl::Status {
    absl::StatusOr<storage::DemoteResult> result =
        core_->Demote(request->idle_seconds(), request->limit(), CallDeadline(*context, absl::Hours(24)),
                      [&] { return context->IsCancelled() || stopping_->load(); }, request->record_type());
    if (!result.ok()) return result.status();
    response->set_scanned(result->scanned);
    response->set_demoted(result->demoted);
    response->set_tombstones_demoted(result->tombstones_demoted);
    response->set_skipped_changed(result->skipped_changed);
    response->set_too_large(result->too_large);
    for (const std::string& id : result->too_large_ids) response->add_too_large_ids(id);
    response->set_bytes(result->bytes);
    observers_.logger->Log(
        LogChannel::kAdmin, LogLevel::kInfo,
        absl::StrCat("demote idle>=", request->idle_seconds(), "s limit=", request->limit(), ": scanned ",
                     result->scanned, ", demoted ", result->demoted, ", tombstones ", result->tombstones_demoted,
                     ", kept (changed meanwhile) ", result->skipped_changed, ", bytes ", result->bytes));
    if (result->too_large > 0) {
      observers_.logger->Log(
          LogChannel::kAdmin, LogLevel::kWarning,
          absl::StrCat("demote: ", result->too_large,
                       " idle records are too large for one MySQL statement and stay in Redis (raise MariaDB's "
                       "max_allowed_packet), e.g. ",
                       absl::StrJoin(result->too_large_ids, ", ")));
    }
    return absl::OkStatus();
  });
}

grpc::Status AdminService::GetMetrics(grpc::ServerContext* context, const GetMetricsRequest*,
                                      GetMetricsResponse* response) {
  if (grpc::Status denied = Authorize(*context); !denied.ok()) return denied;
  response->set_text(observers_.metrics->RenderPrometheusText());
  return grpc::Status::OK;
}

grpc::Status AdminService::SetLogLevel(grpc::ServerContext* context, const SetLogLevelRequest* request,
                                       SetLogLevelResponse* response) {
  if (grpc::Status denied = Authorize(*context); !denied.ok()) return denied;
  return Instrumented(observers_, context, "catalog.admin.v1.CatalogAdminService/SetLogLevel", [&]() -> absl::Status {
    if (!request->channel().empty() || !request->level().empty()) {
      if (absl::Status set = observers_.logger->SetLevel(request->channel(), request->level()); !set.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(set.message(), "; channels: *, ",
                                                       absl::StrJoin(kLogChannels, ", ")));
      }
      observers_.logger->Log(LogChannel::kAdmin, LogLevel::kInfo,
                             absl::StrCat("log level of ", request->channel(), " set to ", request->level()),
                             {{"levels", observers_.logger->Levels()}});
    }
    response->set_levels(observers_.logger->Levels());
    return absl::OkStatus();
  });
}

}  // namespace catalog::service

#include "service/grpc_glue.h"

#include <grpc/support/time.h>

namespace catalog::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Time CallDeadline(const grpc::ServerContextBase& context, absl::Duration max_call) {
  const absl::Time cap = absl::Now() + max_call;
  const gpr_timespec raw = context.raw_deadline();
  if (gpr_time_cmp(raw, gpr_inf_future(raw.clock_type)) == 0) return cap;
  const gpr_timespec real = gpr_convert_clock_type(raw, GPR_CLOCK_REALTIME);
  return std::min(cap, absl::FromUnixSeconds(real.tv_sec) + absl::Nanoseconds(real.tv_nsec));
}

}  // namespace catalog::service

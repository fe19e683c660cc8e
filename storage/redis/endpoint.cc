#include "storage/redis/endpoint.h"

#include <hiredis/hiredis.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {

absl::StatusOr<std::vector<HostPort>> ParseHostPorts(absl::string_view text) {
  std::vector<HostPort> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t colon = item.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(item.substr(colon + 1), &port) ||
        port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("\"", item, "\" is not host:port"));
    }
    absl::string_view host = item.substr(0, colon);
    if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
      return absl::InvalidArgumentError(absl::StrCat("\"", item, "\" is not host:port"));
    }
    out.push_back(HostPort{std::string(host), port});
  }
  if (out.empty()) return absl::InvalidArgumentError("no host:port given");
  return out;
}

StaticEndpoint::StaticEndpoint(const std::string& host, int port)
    : address_{ResolveHost(host), port, 1}, name_(absl::StrCat("redis ", host, ":", port)) {
  epoch_.store(1, std::memory_order_release);
}

bool IsMasterRole(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
         reply->element[0]->type == REDIS_REPLY_STRING &&
         absl::string_view(reply->element[0]->str, reply->element[0]->len) == "master";
}

}  // namespace catalog::storage

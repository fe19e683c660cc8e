#include "service/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/logger.h"
#include "storage/redis/endpoint.h"

namespace catalog::service {
namespace {

// A literal loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or
// "localhost". Any other name could resolve anywhere, so it is not one.
bool IsLoopbackHost(std::string host) {
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    in6_addr v6;
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1) return false;
  return (ntohl(v4.s_addr) >> 24) == 127;
}


std::string EnvName(absl::string_view option) { return absl::StrCat("CATALOG_", absl::AsciiStrToUpper(option)); }

absl::Status SetInt(absl::string_view name, absl::string_view source, const std::string& text, int64_t min, int64_t max,
                    int64_t* field) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(source, " ", name, ": \"", text, "\" is not an integer"));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " ", name, ": ", value, " is out of range [", min, ", ", max, "]"));
  }
  *field = value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> ParseConfig(const std::vector<std::string>& args,
                                   const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  Config config;
  // Setters by option name; `source` says where a bad value came from.
  using Setter = std::function<absl::Status(absl::string_view source, const std::string& value)>;
  absl::flat_hash_map<std::string, Setter> setters;
#define CATALOG_INT_SETTER(name, default_value, min, max, help)                    \
  setters[#name] = [&config](absl::string_view source, const std::string& value) { \
    return SetInt(#name, source, value, min, max, &config.name);                   \
  };
  CATALOG_INT_OPTIONS(CATALOG_INT_SETTER)
#undef CATALOG_INT_SETTER
#define CATALOG_STRING_SETTER(name, default_value, help)                    \
  setters[#name] = [&config](absl::string_view, const std::string& value) { \
    config.name = value;                                                    \
    return absl::OkStatus();                                                \
  };
  CATALOG_STRING_OPTIONS(CATALOG_STRING_SETTER)
#undef CATALOG_STRING_SETTER

  for (const auto& [name, setter] : setters) {
    const std::string env = EnvName(name);
    if (std::optional<std::string> value = getenv(env); value.has_value()) {
      if (absl::Status s = setter(absl::StrCat("environment variable ", env, " (option"), *value); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(s.message(), ")"));
      }
    }
  }
  for (const std::string& arg : args) {
    if (!absl::StartsWith(arg, "--") || arg.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("argument \"", arg, "\": expected --option=value (see --help)"));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq - 2);
    auto it = setters.find(name);
    if (it == setters.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name, " (see --help)"));
    }
    if (absl::Status s = it->second("option", arg.substr(eq + 1)); !s.ok()) return s;
  }
  if (config.max_record_bytes + 64 > config.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("option max_record_bytes: ", config.max_record_bytes,
                                                   " does not fit max_message_bytes ", config.max_message_bytes,
                                                   " (one product must fit one answer)"));
  }
  if (!config.redis_sentinels.empty()) {
    if (absl::StatusOr<std::vector<storage::HostPort>> sentinels = storage::ParseHostPorts(config.redis_sentinels);
        !sentinels.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("option redis_sentinels: ", sentinels.status().message()));
    }
    if (config.redis_master_name.empty()) {
      return absl::InvalidArgumentError("option redis_master_name: empty (required with redis_sentinels)");
    }
  }
  if (config.redis_write_replicas > 0 && config.redis_wait_timeout_ms >= config.redis_command_timeout_ms) {
    return absl::InvalidArgumentError(absl::StrCat("option redis_wait_timeout_ms: ", config.redis_wait_timeout_ms,
                                                   " must be below redis_command_timeout_ms ",
                                                   config.redis_command_timeout_ms, " (WAIT blocks the round trip)"));
  }
  if (config.listen_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("option listen_address: \"", config.listen_address, "\" is not host:port"));
  }
  if (absl::StatusOr<LogLevel> level = Logger::ParseLevel(config.log_level); !level.ok()) return level.status();
  if (!config.metrics_listen_address.empty() && config.metrics_listen_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("option metrics_listen_address: \"", config.metrics_listen_address, "\" is not host:port"));
  }
  if (!config.http_listen_address.empty()) {
    const size_t colon = config.http_listen_address.rfind(':');
    if (colon == std::string::npos || colon + 1 == config.http_listen_address.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("option http_listen_address: \"", config.http_listen_address, "\" is not host:port"));
    }
    for (const std::string* other :
         {&config.listen_address, &config.metrics_listen_address, &config.admin_listen_address}) {
      if (*other == config.http_listen_address && !absl::EndsWith(config.http_listen_address, ":0")) {
        return absl::InvalidArgumentError(absl::StrCat("option http_listen_address: \"", config.http_listen_address,
                                                       "\" is also the gRPC, metrics or admin address"));
      }
    }
  }
  for (absl::string_view origin : absl::StrSplit(config.http_cors_allowed_origins, ',', absl::SkipWhitespace())) {
    origin = absl::StripAsciiWhitespace(origin);
    const bool scheme = absl::StartsWith(origin, "http://") || absl::StartsWith(origin, "https://");
    const absl::string_view rest = origin.substr(origin.find("//") + 2);
    if (origin != "*" && (!scheme || rest.empty() || absl::StrContains(rest, "/"))) {
      return absl::InvalidArgumentError(absl::StrCat("option http_cors_allowed_origins: \"", origin,
                                                     "\" is not * or an origin like https://shop.example.com"));
    }
  }
  if (!config.http_cors_allowed_origins.empty() && config.http_listen_address.empty()) {
    return absl::InvalidArgumentError("option http_cors_allowed_origins: set, but http_listen_address is empty");
  }
  // A secret from its option (or environment variable) or from its file,
  // never both: which one wins would be a guess.
  for (const auto& [value, file, name] :
       {std::tuple{&config.mysql_password, &config.mysql_password_file, "mysql_password"},
        std::tuple{&config.redis_password, &config.redis_password_file, "redis_password"},
        std::tuple{&config.migrate_mysql_password, &config.migrate_mysql_password_file, "migrate_mysql_password"}}) {
    if (!value->empty() && !file->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("option ", name, "_file: give ", name, " (or CATALOG_",
                                                     absl::AsciiStrToUpper(name), ") or ", name, "_file, not both"));
    }
  }
  // A certificate and its key go together.
  for (const auto& [cert, key, cert_name, key_name] :
       {std::tuple{&config.tls_cert_file, &config.tls_key_file, "tls_cert_file", "tls_key_file"},
        std::tuple{&config.mysql_tls_cert_file, &config.mysql_tls_key_file, "mysql_tls_cert_file",
                   "mysql_tls_key_file"},
        std::tuple{&config.redis_tls_cert_file, &config.redis_tls_key_file, "redis_tls_cert_file",
                   "redis_tls_key_file"}}) {
    if (cert->empty() != key->empty()) {
      return absl::InvalidArgumentError(cert->empty() ? absl::StrCat("option ", cert_name, ": required with ", key_name)
                                                      : absl::StrCat("option ", key_name, ": required with ", cert_name));
    }
  }
  if (!config.mysql_tls_cert_file.empty() && config.mysql_tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "option mysql_tls_ca_file: required with mysql_tls_cert_file (TLS to MySQL is verified or not used)");
  }
  if (config.redis_tls_ca_file.empty() && (!config.redis_tls_cert_file.empty() || !config.redis_tls_server_name.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option redis_tls_ca_file: required with ",
        config.redis_tls_cert_file.empty() ? "redis_tls_server_name" : "redis_tls_cert_file",
        " (TLS to Redis is verified or not used)"));
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "option tls_client_ca_file: needs tls_cert_file and tls_key_file (client certificates are asked for over TLS "
        "only)");
  }
  if (config.admin_listen_address.empty()) {
    if (!config.admin_token_file.empty()) {
      return absl::InvalidArgumentError("option admin_token_file: set, but admin_listen_address is empty (no admin "
                                        "plane to protect)");
    }
  } else {
    const size_t colon = config.admin_listen_address.rfind(':');
    if (colon == std::string::npos || colon == 0 || config.admin_listen_address.back() == ']') {
      return absl::InvalidArgumentError(
          absl::StrCat("option admin_listen_address: \"", config.admin_listen_address, "\" is not host:port"));
    }
    // Demotion and metrics for anyone who can reach the port: only on the
    // machine itself, unless callers must prove who they are.
    if (!IsLoopbackHost(config.admin_listen_address.substr(0, colon)) && config.admin_token_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "option admin_listen_address: \"", config.admin_listen_address,
          "\" is not a loopback address; set admin_token_file so admin calls need a bearer token"));
    }
    for (const std::string* other : {&config.listen_address, &config.metrics_listen_address}) {
      // Port 0 asks for any free port: never the same one twice.
      if (*other == config.admin_listen_address && !absl::EndsWith(config.admin_listen_address, ":0")) {
        return absl::InvalidArgumentError(absl::StrCat("option admin_listen_address: \"", config.admin_listen_address,
                                                       "\" is also the public or the metrics address"));
      }
    }
  }
  return config;
}

std::vector<std::string> ConfigOptionNames() {
  std::vector<std::string> names;
#define CATALOG_INT_NAME(name, default_value, min, max, help) names.push_back(#name);
  CATALOG_INT_OPTIONS(CATALOG_INT_NAME)
#undef CATALOG_INT_NAME
#define CATALOG_STRING_NAME(name, default_value, help) names.push_back(#name);
  CATALOG_STRING_OPTIONS(CATALOG_STRING_NAME)
#undef CATALOG_STRING_NAME
  return names;
}

std::string ConfigHelp() {
  std::string out = "Options (flag --name=value, or environment variable CATALOG_NAME):\n";
#define CATALOG_INT_HELP(name, default_value, min, max, help)                                        \
  absl::StrAppend(&out, absl::StrFormat("  --%-26s default %-10d range [%d, %d]\n      %s\n", #name, \
                                        int64_t{default_value}, int64_t{min}, int64_t{max}, help));
  CATALOG_INT_OPTIONS(CATALOG_INT_HELP)
#undef CATALOG_INT_HELP
#define CATALOG_STRING_HELP(name, default_value, help) \
  absl::StrAppend(&out, absl::StrFormat("  --%-26s default \"%s\"\n      %s\n", #name, default_value, help));
  CATALOG_STRING_OPTIONS(CATALOG_STRING_HELP)
#undef CATALOG_STRING_HELP
  return out;
}

}  // namespace catalog::service

// Config: catalog-server's options (listed once in service/option_list.h),
// parsed from flags and environment and validated before anything starts.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/option_list.h"

namespace catalog::service {

struct Config {
#define CATALOG_INT_FIELD(name, default_value, min, max, help) int64_t name = default_value;
  CATALOG_INT_OPTIONS(CATALOG_INT_FIELD)
#undef CATALOG_INT_FIELD
#define CATALOG_STRING_FIELD(name, default_value, help) std::string name = default_value;
  CATALOG_STRING_OPTIONS(CATALOG_STRING_FIELD)
#undef CATALOG_STRING_FIELD
};

// Reads `--name=value` flags (after argv[0]) over CATALOG_NAME environment
// variables (looked up through `getenv`) over defaults. INVALID_ARGUMENT,
// naming the option and the accepted range, for an unknown flag, a value
// that does not parse or one out of range.
absl::StatusOr<Config> ParseConfig(const std::vector<std::string>& args,
                                   const std::function<std::optional<std::string>(const std::string&)>& getenv);

// The option reference as text: name, default, range and help per line.
std::string ConfigHelp();

// Every option's name, in declaration order.
std::vector<std::string> ConfigOptionNames();

}  // namespace catalog::service

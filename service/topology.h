// The topology: which Redis deployment and which MySQL database hold each
// record type (schema and file format: proto/catalog/config/v1/
// topology.proto). From --topology_file, or built from the redis_* and
// mysql_* options (one deployment and one database for every type).
//
// Errors: INVALID_ARGUMENT naming the file, the line and the field, e.g.
// `topology file t.textproto line 7: records[1].redis: "cache" names no
// redis deployment`; NOT_FOUND for a file that cannot be read.
//
// Thread-safety: plain functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "catalog/config/v1/topology.pb.h"
#include "service/config.h"

namespace catalog::service {

// The record types a topology places, each exactly once.
inline constexpr const char* kRecordTypes[] = {"products", "offers"};

// Parses and checks a topology in text format; `source` names it in errors.
absl::StatusOr<catalog::config::v1::Topology> ParseTopology(absl::string_view text, absl::string_view source);

// The same checks on a topology built in code (no lines to name).
absl::Status CheckTopology(const catalog::config::v1::Topology& topology, absl::string_view source);

// Reads and parses `path`.
absl::StatusOr<catalog::config::v1::Topology> LoadTopologyFile(const std::string& path);

// The topology the options describe (no topology file): deployment
// "default" (standalone or Sentinel), database "default", every type there.
catalog::config::v1::Topology TopologyFromConfig(const Config& config);

// The placement of `record_type` (which a checked topology has).
const catalog::config::v1::RecordPlacement& PlacementOf(const catalog::config::v1::Topology& topology,
                                                        absl::string_view record_type);

}  // namespace catalog::service

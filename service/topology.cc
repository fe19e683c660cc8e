#include "service/topology.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "storage/redis/endpoint.h"
#include "storage/status_macros.h"

namespace catalog::service {
namespace {

using catalog::config::v1::Topology;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

// Names errors by line and field path, from the parser's locations.
class Checker {
 public:
  Checker(absl::string_view source, const TextFormat::ParseInfoTree* tree) : source_(source), tree_(tree) {}

  // The error for `path` (e.g. "redis[1].name"), at the line where
  // `field` (index: repeated position or -1) of the message at `nested`
  // was written, or where its parent was when it was not written.
  absl::Status Error(const std::vector<std::pair<const FieldDescriptor*, int>>& nested, const FieldDescriptor* field,
                     int index, absl::string_view path, absl::string_view what) const {
    const TextFormat::ParseInfoTree* tree = tree_;
    int line = -1;
    for (const auto& [parent, parent_index] : nested) {
      if (tree == nullptr) break;
      const int at = tree->GetLocation(parent, parent_index).line;
      if (at >= 0) line = at;
      tree = tree->GetTreeForNested(parent, parent_index);
    }
    if (tree != nullptr && field != nullptr) {
      const int at = tree->GetLocation(field, index).line;
      if (at >= 0) line = at;
    }
    return absl::InvalidArgumentError(absl::StrCat("topology ", source_, line >= 0 ? absl::StrCat(" line ", line + 1) : "",
                                                   ": ", path, ": ", what));
  }

 private:
  const std::string source_;
  const TextFormat::ParseInfoTree* tree_;
};

bool IsName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsHostPort(const std::string& address) {
  absl::StatusOr<std::vector<storage::HostPort>> parsed = storage::ParseHostPorts(address);
  return parsed.ok() && parsed->size() == 1;
}

absl::Status Check(const Topology& topology, const Checker& check) {
  const Descriptor* top = Topology::descriptor();
  const FieldDescriptor* redis_field = top->FindFieldByName("redis");
  const FieldDescriptor* mysql_field = top->FindFieldByName("mysql");
  const FieldDescriptor* records_field = top->FindFieldByName("records");
  auto field_of = [](const google::protobuf::Message& m, const char* name) {
    return m.GetDescriptor()->FindFieldByName(name);
  };

  // A deployment's or database's name: well formed, and used once.
  auto check_name = [&](const auto& entry, const std::vector<std::pair<const FieldDescriptor*, int>>& at,
                        const std::string& path, absl::flat_hash_set<std::string>* names) -> absl::Status {
    if (!IsName(entry.name())) {
      return check.Error(at, field_of(entry, "name"), -1, path + ".name",
                         absl::StrCat("\"", entry.name(), "\" is not 1..64 characters [A-Za-z0-9_-]"));
    }
    if (!names->insert(entry.name()).second) {
      return check.Error(at, field_of(entry, "name"), -1, path + ".name",
                         absl::StrCat("\"", entry.name(), "\" is named twice"));
    }
    return absl::OkStatus();
  };
  // TLS files: a client certificate and its key go together, and only with
  // a CA (TLS is verified or not used).
  auto check_tls = [&](const auto& entry, const std::vector<std::pair<const FieldDescriptor*, int>>& at,
                       const std::string& path) -> absl::Status {
    if (entry.tls_cert_file().empty() != entry.tls_key_file().empty()) {
      return check.Error(at, nullptr, -1, path + (entry.tls_cert_file().empty() ? ".tls_cert_file" : ".tls_key_file"),
                         "tls_cert_file and tls_key_file go together");
    }
    if (!entry.tls_cert_file().empty() && entry.tls_ca_file().empty()) {
      return check.Error(at, nullptr, -1, path + ".tls_ca_file", "required with tls_cert_file");
    }
    return absl::OkStatus();
  };
  absl::flat_hash_set<std::string> redis_names, mysql_names;
  for (int i = 0; i < topology.redis_size(); ++i) {
    const auto& r = topology.redis(i);
    const std::string path = absl::StrCat("redis[", i, "]");
    const std::vector<std::pair<const FieldDescriptor*, int>> at = {{redis_field, i}};
    if (!r.password_env().empty() && !r.password_file().empty()) {
      return check.Error(at, field_of(r, "password_file"), -1, path + ".password_file",
                         "give password_env or password_file, not both");
    }
    RETURN_IF_ERROR(check_name(r, at, path, &redis_names));
    RETURN_IF_ERROR(check_tls(r, at, path));
    if (!r.tls_server_name().empty() && r.tls_ca_file().empty()) {
      return check.Error(at, nullptr, -1, path + ".tls_ca_file", "required with tls_server_name");
    }
    if (r.write_replicas() < 0) {
      return check.Error(at, field_of(r, "write_replicas"), -1, path + ".write_replicas", "must be >= 0");
    }
    switch (r.kind_case()) {
      case catalog::config::v1::RedisDeployment::kStandalone:
        if (!IsHostPort(r.standalone().address())) {
          return check.Error({{redis_field, i}, {field_of(r, "standalone"), -1}},
                             field_of(r.standalone(), "address"), -1, path + ".standalone.address",
                             absl::StrCat("\"", r.standalone().address(), "\" is not host:port"));
        }
        break;
      case catalog::config::v1::RedisDeployment::kSentinel: {
        const auto& s = r.sentinel();
        const std::vector<std::pair<const FieldDescriptor*, int>> in = {{redis_field, i}, {field_of(r, "sentinel"), -1}};
        if (s.sentinels_size() == 0) return check.Error(in, nullptr, -1, path + ".sentinel.sentinels", "required");
        for (int k = 0; k < s.sentinels_size(); ++k) {
          if (!IsHostPort(s.sentinels(k))) {
            return check.Error(in, field_of(s, "sentinels"), k, absl::StrCat(path, ".sentinel.sentinels[", k, "]"),
                               absl::StrCat("\"", s.sentinels(k), "\" is not host:port"));
          }
        }
        if (s.master_name().empty()) {
          return check.Error(in, nullptr, -1, path + ".sentinel.master_name", "required");
        }
        break;
      }
      case catalog::config::v1::RedisDeployment::kCluster: {
        const auto& c = r.cluster();
        const std::vector<std::pair<const FieldDescriptor*, int>> in = {{redis_field, i}, {field_of(r, "cluster"), -1}};
        if (c.seeds_size() == 0) return check.Error(in, nullptr, -1, path + ".cluster.seeds", "required");
        for (int k = 0; k < c.seeds_size(); ++k) {
          if (!IsHostPort(c.seeds(k))) {
            return check.Error(in, field_of(c, "seeds"), k, absl::StrCat(path, ".cluster.seeds[", k, "]"),
                               absl::StrCat("\"", c.seeds(k), "\" is not host:port"));
          }
        }
        // A write across nodes is several steps on several masters; WAIT
        // after each is not built yet, so it is refused, not ignored.
        if (r.write_replicas() > 0) {
          return check.Error(at, field_of(r, "write_replicas"), -1, path + ".write_replicas",
                             "must be 0 for a cluster deployment (waiting for replicas is not supported on Redis "
                             "Cluster yet; see README, Redis Cluster)");
        }
        break;
      }
      default:
        return check.Error(at, nullptr, -1, path, "one of standalone, sentinel or cluster is required");
    }
  }
  for (int i = 0; i < topology.mysql_size(); ++i) {
    const auto& m = topology.mysql(i);
    const std::string path = absl::StrCat("mysql[", i, "]");
    const std::vector<std::pair<const FieldDescriptor*, int>> at = {{mysql_field, i}};
    RETURN_IF_ERROR(check_name(m, at, path, &mysql_names));
    if (!IsHostPort(m.address())) {
      return check.Error(at, field_of(m, "address"), -1, path + ".address",
                         absl::StrCat("\"", m.address(), "\" is not host:port"));
    }
    if (m.user().empty()) return check.Error(at, nullptr, -1, path + ".user", "required");
    if (m.database().empty()) return check.Error(at, nullptr, -1, path + ".database", "required");
    if (!m.password_env().empty() && !m.password_file().empty()) {
      return check.Error(at, field_of(m, "password_file"), -1, path + ".password_file",
                         "give password_env or password_file, not both");
    }
    RETURN_IF_ERROR(check_tls(m, at, path));
  }
  absl::flat_hash_set<std::string> placed;
  for (int i = 0; i < topology.records_size(); ++i) {
    const auto& p = topology.records(i);
    const std::string path = absl::StrCat("records[", i, "]");
    const std::vector<std::pair<const FieldDescriptor*, int>> at = {{records_field, i}};
    const bool known = std::any_of(std::begin(kRecordTypes), std::end(kRecordTypes),
                                   [&](const char* type) { return p.record_type() == type; });
    if (!known) {
      return check.Error(at, field_of(p, "record_type"), -1, path + ".record_type",
                         absl::StrCat("\"", p.record_type(), "\" is not a record type (products, offers)"));
    }
    if (!placed.insert(p.record_type()).second) {
      return check.Error(at, field_of(p, "record_type"), -1, path + ".record_type",
                         absl::StrCat("\"", p.record_type(), "\" is placed twice"));
    }
    if (!redis_names.contains(p.redis())) {
      return check.Error(at, field_of(p, "redis"), -1, path + ".redis",
                         absl::StrCat("\"", p.redis(), "\" names no redis deployment"));
    }
    if (!mysql_names.contains(p.mysql())) {
      return check.Error(at, field_of(p, "mysql"), -1, path + ".mysql",
                         absl::StrCat("\"", p.mysql(), "\" names no mysql database"));
    }
  }
  // Product views live on the products' deployment and are invalidated
  // there by offer writes: those invalidations must be as durable as the
  // offer writes, or a failover could keep an offer and lose the
  // invalidation of its views.
  const catalog::config::v1::RedisDeployment* products = nullptr;
  const catalog::config::v1::RedisDeployment* offers = nullptr;
  int offers_index = -1;
  for (int i = 0; i < topology.records_size(); ++i) {
    for (const auto& r : topology.redis()) {
      if (r.name() != topology.records(i).redis()) continue;
      if (topology.records(i).record_type() == "products") products = &r;
      if (topology.records(i).record_type() == "offers") {
        offers = &r;
        offers_index = i;
      }
    }
  }
  if (products != nullptr && offers != nullptr && products->write_replicas() < offers->write_replicas()) {
    const auto& p = topology.records(offers_index);
    return check.Error({{records_field, offers_index}}, field_of(p, "redis"), -1,
                       absl::StrCat("records[", offers_index, "].redis"),
                       absl::StrCat("offers on \"", offers->name(), "\" (write_replicas ", offers->write_replicas(),
                                    ") invalidate product views on \"", products->name(), "\" (write_replicas ",
                                    products->write_replicas(), "): raise the latter to at least the former"));
  }
  for (const char* type : kRecordTypes) {
    if (!placed.contains(type)) {
      return check.Error({}, nullptr, -1, "records", absl::StrCat("record type \"", type, "\" is not placed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Topology> ParseTopology(absl::string_view text, absl::string_view source) {
  Topology topology;
  TextFormat::Parser parser;
  Collector errors;
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &topology)) {
    return absl::InvalidArgumentError(absl::StrCat("topology ", source, " ", errors.first()));
  }
  if (absl::Status s = Check(topology, Checker(source, &tree)); !s.ok()) return s;
  return topology;
}

absl::Status CheckTopology(const Topology& topology, absl::string_view source) {
  return Check(topology, Checker(source, nullptr));
}

absl::StatusOr<Topology> LoadTopologyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("option topology_file: cannot read \"", path, "\""));
  std::stringstream text;
  text << in.rdbuf();
  return ParseTopology(text.str(), absl::StrCat("file ", path));
}

Topology TopologyFromConfig(const Config& config) {
  Topology topology;
  auto* redis = topology.add_redis();
  redis->set_name("default");
  redis->set_write_replicas(static_cast<int32_t>(config.redis_write_replicas));
  if (config.redis_sentinels.empty()) {
    redis->mutable_standalone()->set_address(absl::StrCat(config.redis_host, ":", config.redis_port));
  } else {
    const std::vector<storage::HostPort> sentinels = *storage::ParseHostPorts(config.redis_sentinels);  // Checked.
    for (const storage::HostPort& s : sentinels) {
      redis->mutable_sentinel()->add_sentinels(absl::StrCat(s.host, ":", s.port));
    }
    redis->mutable_sentinel()->set_master_name(config.redis_master_name);
  }
  redis->set_tls_ca_file(config.redis_tls_ca_file);
  redis->set_tls_cert_file(config.redis_tls_cert_file);
  redis->set_tls_key_file(config.redis_tls_key_file);
  redis->set_tls_server_name(config.redis_tls_server_name);
  auto* mysql = topology.add_mysql();
  mysql->set_name("default");
  mysql->set_address(absl::StrCat(config.mysql_host, ":", config.mysql_port));
  mysql->set_user(config.mysql_user);
  mysql->set_database(config.mysql_database);
  mysql->set_tls_ca_file(config.mysql_tls_ca_file);
  mysql->set_tls_cert_file(config.mysql_tls_cert_file);
  mysql->set_tls_key_file(config.mysql_tls_key_file);
  for (const char* type : kRecordTypes) {
    auto* placement = topology.add_records();
    placement->set_record_type(type);
    placement->set_redis("default");
    placement->set_mysql("default");
  }
  return topology;
}

const catalog::config::v1::RecordPlacement& PlacementOf(const Topology& topology, absl::string_view record_type) {
  for (const auto& placement : topology.records()) {
    if (placement.record_type() == record_type) return placement;
  }
  std::abort();  // A checked topology places every type.
}

}  // namespace catalog::service

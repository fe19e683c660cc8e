#include "service/config.h"
#include "storage/metrics.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <fstream>
#include <map>
#include <sstream>

namespace catalog::service {
namespace {

auto Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

TEST_CASE("defaults, environment, then flags") {
  auto config = ParseConfig({}, Env({}));
  REQUIRE(config.ok());
  CHECK(config->max_batch_size == 1000);
  CHECK(config->listen_address == "127.0.0.1:50051");

  config = ParseConfig({"--redis_port=7000"}, Env({{"CATALOG_REDIS_PORT", "6000"}, {"CATALOG_MYSQL_USER", "u"}}));
  REQUIRE(config.ok());
  CHECK(config->redis_port == 7000);
  CHECK(config->mysql_user == "u");
}

TEST_CASE("bad configuration is rejected with a precise message") {
  CHECK(ParseConfig({"--redis_port=70000"}, Env({})).status().message() ==
        "option redis_port: 70000 is out of range [1, 65535]");
  CHECK(ParseConfig({"--max_batch_size=lots"}, Env({})).status().message() ==
        "option max_batch_size: \"lots\" is not an integer");
  CHECK(ParseConfig({"--no_such=1"}, Env({})).status().message() == "unknown option --no_such (see --help)");
  CHECK(ParseConfig({"redis_port"}, Env({})).status().message() ==
        "argument \"redis_port\": expected --option=value (see --help)");
  CHECK(ParseConfig({}, Env({{"CATALOG_MAX_CALL_MS", "0"}})).status().message() ==
        "environment variable CATALOG_MAX_CALL_MS (option max_call_ms: 0 is out of range [10, 600000])");
  CHECK(ParseConfig({"--listen_address=50051"}, Env({})).status().message() ==
        "option listen_address: \"50051\" is not host:port");
  CHECK(ParseConfig({"--log_level=loud"}, Env({})).status().message() ==
        "option log_level: \"loud\" is not one of debug, info, warning, error");
  CHECK(ParseConfig({"--metrics_listen_address=9464"}, Env({})).status().message() ==
        "option metrics_listen_address: \"9464\" is not host:port");
  CHECK(ParseConfig({"--http_listen_address=8080"}, Env({})).status().message() ==
        "option http_listen_address: \"8080\" is not host:port");
  CHECK(ParseConfig({"--http_listen_address=127.0.0.1:50051"}, Env({})).status().message() ==
        "option http_listen_address: \"127.0.0.1:50051\" is also the gRPC, metrics or admin address");
  CHECK(ParseConfig({"--http_listen_address=127.0.0.1:8080", "--http_cors_allowed_origins=https://a.example/x"},
                    Env({}))
            .status()
            .message() == "option http_cors_allowed_origins: \"https://a.example/x\" is not * or an origin like "
                          "https://shop.example.com");
  CHECK(ParseConfig({"--http_cors_allowed_origins=*"}, Env({})).status().message() ==
        "option http_cors_allowed_origins: set, but http_listen_address is empty");
  CHECK(ParseConfig({"--http_listen_address=127.0.0.1:8080",
                     "--http_cors_allowed_origins=https://a.example, http://localhost:3000,*"},
                    Env({}))
            .ok());
  CHECK(ParseConfig({"--http_max_concurrent_streams=0"}, Env({})).status().message() ==
        "option http_max_concurrent_streams: 0 is out of range [1, 10000]");
  CHECK(ParseConfig({"--redis_sentinels=127.0.0.1:26379,sentinel2"}, Env({})).status().message() ==
        "option redis_sentinels: \"sentinel2\" is not host:port");
  CHECK(ParseConfig({"--redis_sentinels=h:0"}, Env({})).status().message() ==
        "option redis_sentinels: \"h:0\" is not host:port");
  CHECK(ParseConfig({"--redis_sentinels=h:26379", "--redis_master_name="}, Env({})).status().message() ==
        "option redis_master_name: empty (required with redis_sentinels)");
  CHECK(ParseConfig({"--redis_write_replicas=1", "--redis_wait_timeout_ms=1000"}, Env({})).status().message() ==
        "option redis_wait_timeout_ms: 1000 must be below redis_command_timeout_ms 1000 (WAIT blocks the round trip)");
  // At the limit: accepted.
  CHECK(ParseConfig({"--redis_write_replicas=1", "--redis_wait_timeout_ms=999"}, Env({})).ok());
  auto sentinels = ParseConfig({"--redis_sentinels=[::1]:26379, 10.0.0.2:26380"}, Env({}));
  REQUIRE(sentinels.ok());
  CHECK(sentinels->redis_sentinels == "[::1]:26379, 10.0.0.2:26380");
}

TEST_CASE("help lists every option with its default") {
  const std::string help = ConfigHelp();
  CHECK(help.find("--max_batch_size") != std::string::npos);
  CHECK(help.find("default 1000") != std::string::npos);
  CHECK(help.find("--mysql_password") != std::string::npos);
}

TEST_CASE("config: the admin plane stays on loopback unless a bearer token is required") {
  CHECK(ParseConfig({}, Env({}))->admin_listen_address == "127.0.0.1:50052");
  CHECK(ParseConfig({"--admin_listen_address=[::1]:9000"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address=localhost:9000"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address="}, Env({})).ok());  // No admin plane.
  CHECK(ParseConfig({"--admin_listen_address=10.0.0.5:9000"}, Env({})).status().message() ==
        "option admin_listen_address: \"10.0.0.5:9000\" is not a loopback address; set admin_token_file so admin "
        "calls need a bearer token");
  CHECK(ParseConfig({"--admin_listen_address=0.0.0.0:9000", "--admin_token_file=/run/secrets/admin"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address=9000"}, Env({})).status().message() ==
        "option admin_listen_address: \"9000\" is not host:port");
  CHECK(ParseConfig({"--admin_listen_address=[::1]"}, Env({})).status().message() ==
        "option admin_listen_address: \"[::1]\" is not host:port");
  // Names that merely look like loopback could resolve anywhere.
  for (const char* address : {"127.0.0.1.evil.example:9000", "127.corp.example:9000", "[::2]:9000", "[fe80::1]:9000"}) {
    INFO(address);
    CHECK(absl::StrContains(ParseConfig({absl::StrCat("--admin_listen_address=", address)}, Env({})).status().message(),
                            "is not a loopback address"));
  }
  CHECK(ParseConfig({"--admin_listen_address=127.8.9.10:9000"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address=[::ffff:127.0.0.1]:9000"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address=127.0.0.1:9000", "--listen_address=127.0.0.1:9000"}, Env({}))
            .status()
            .message() == "option admin_listen_address: \"127.0.0.1:9000\" is also the public or the metrics address");
  CHECK(ParseConfig({"--admin_listen_address=127.0.0.1:0", "--listen_address=127.0.0.1:0"}, Env({})).ok());
  CHECK(ParseConfig({"--admin_listen_address=", "--admin_token_file=/t"}, Env({})).status().message() ==
        "option admin_token_file: set, but admin_listen_address is empty (no admin plane to protect)");
}

TEST_CASE("config: a password from the option or from its file, never both") {
  CHECK(ParseConfig({"--mysql_password_file=/p"}, Env({{"CATALOG_MYSQL_PASSWORD", "x"}})).status().message() ==
        "option mysql_password_file: give mysql_password (or CATALOG_MYSQL_PASSWORD) or mysql_password_file, not both");
  CHECK(ParseConfig({"--migrate_mysql_password_file=/p"}, Env({{"CATALOG_MIGRATE_MYSQL_PASSWORD", "x"}}))
            .status()
            .message() ==
        "option migrate_mysql_password_file: give migrate_mysql_password (or CATALOG_MIGRATE_MYSQL_PASSWORD) or "
        "migrate_mysql_password_file, not both");
  CHECK(ParseConfig({"--mysql_password_file=/p"}, Env({})).ok());
  CHECK(ParseConfig({}, Env({}))->migrate_mysql_user == "catalog_migrate");
}

TEST_CASE("README's configuration table lists every option") {
  std::ifstream in(CATALOG_SOURCE_DIR "/README.md");
  REQUIRE(in.good());
  std::stringstream readme;
  readme << in.rdbuf();
  for (const std::string& name : ConfigOptionNames()) {
    INFO(name);
    CHECK(readme.str().find("| `" + name + "` |") != std::string::npos);
  }
}

}  // namespace
TEST_CASE("docs/operations.md explains every metric and every alert") {
  std::ifstream in(CATALOG_SOURCE_DIR "/docs/operations.md");
  REQUIRE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  std::vector<std::string> names;
#define CATALOG_PLAIN_NAME(name, help) names.push_back("catalog_" #name);
#define CATALOG_LABELLED_NAME(name, labels, help) names.push_back("catalog_" #name);
  CATALOG_COUNTERS(CATALOG_PLAIN_NAME)
  CATALOG_GAUGES(CATALOG_PLAIN_NAME)
  CATALOG_LABELLED_COUNTERS(CATALOG_LABELLED_NAME)
  CATALOG_LABELLED_GAUGES(CATALOG_LABELLED_NAME)
  CATALOG_LABELLED_HISTOGRAMS(CATALOG_LABELLED_NAME)
#undef CATALOG_PLAIN_NAME
#undef CATALOG_LABELLED_NAME
  for (const char* process : {"process_resident_memory_bytes", "process_open_fds", "process_threads",
                              "process_start_time_seconds", "catalog_uptime_seconds"}) {
    names.push_back(process);
  }
  REQUIRE(names.size() > 80);
  for (const std::string& name : names) {
    INFO(name);
    CHECK(doc.str().find("| `" + name + "` |") != std::string::npos);
  }
  std::ifstream alerts(CATALOG_SOURCE_DIR "/deploy/prometheus/alerts.yml");
  REQUIRE(alerts.good());
  int alert_count = 0;
  for (std::string line; std::getline(alerts, line);) {
    const size_t at = line.find("- alert: ");
    if (at == std::string::npos) continue;
    const std::string alert = line.substr(at + 9);
    ++alert_count;
    INFO(alert);
    CHECK(doc.str().find("| `" + alert + "` |") != std::string::npos);
  }
  CHECK(alert_count == 7);
}

}  // namespace catalog::service

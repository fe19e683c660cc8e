#include "service/topology.h"

#include <catch2/catch.hpp>

namespace catalog::service {
namespace {

std::string Error(const std::string& text) {
  auto topology = ParseTopology(text, "t.textproto");
  REQUIRE_FALSE(topology.ok());
  CHECK(absl::IsInvalidArgument(topology.status()));
  return std::string(topology.status().message());
}

constexpr char kGood[] = R"(
redis { name: "main" standalone { address: "127.0.0.1:6379" } write_replicas: 1 }
redis { name: "side" sentinel { sentinels: "127.0.0.1:26379" master_name: "catalog" } write_replicas: 1 }
mysql { name: "cold" address: "127.0.0.1:3306" user: "catalog" database: "catalog" }
records { record_type: "products" redis: "main" mysql: "cold" }
records { record_type: "offers" redis: "side" mysql: "cold" }
)";

TEST_CASE("topology: the example file and a good text parse, and place every record type") {
  auto example = LoadTopologyFile(CATALOG_SOURCE_DIR "/deploy/topology.example.textproto");
  INFO(example.status().ToString());
  REQUIRE(example.ok());
  CHECK(PlacementOf(*example, "offers").redis() == "offers");
  auto good = ParseTopology(kGood, "t.textproto");
  REQUIRE(good.ok());
  CHECK(PlacementOf(*good, "products").redis() == "main");
  CHECK(good->redis(1).write_replicas() == 1);
  auto cluster = ParseTopology(R"(
redis { name: "main" cluster { seeds: "127.0.0.1:7000" seeds: "127.0.0.1:7001" } }
mysql { name: "cold" address: "127.0.0.1:3306" user: "catalog" database: "catalog" }
records { record_type: "products" redis: "main" mysql: "cold" }
records { record_type: "offers" redis: "main" mysql: "cold" }
)",
                               "c.textproto");
  INFO(cluster.status().ToString());
  REQUIRE(cluster.ok());
  CHECK(cluster->redis(0).cluster().seeds_size() == 2);
}

TEST_CASE("topology: bad files stop start-up naming the line and the field") {
  CHECK(Error("redis { name: \"a\" standalone { adress: \"x\" } }") ==
        "topology t.textproto line 1 column 38: Message type \"catalog.config.v1.Standalone\" has no field named "
        "\"adress\".");
  CHECK(Error(std::string(kGood) + "records { record_type: \"offers\" redis: \"main\" mysql: \"cold\" }\n") ==
        "topology t.textproto line 7: records[2].record_type: \"offers\" is placed twice");
  std::string text = kGood;
  text.replace(text.find("redis: \"side\""), 13, "redis: \"cache\"");
  CHECK(Error(text) == "topology t.textproto line 6: records[1].redis: \"cache\" names no redis deployment");
  text = kGood;
  text.replace(text.find("\"127.0.0.1:26379\""), 17, "\"sentinel-1\"");
  CHECK(Error(text) == "topology t.textproto line 3: redis[1].sentinel.sentinels[0]: \"sentinel-1\" is not host:port");
  // kGood with the first `from` replaced by `to`.
  auto edited = [](const std::string& from, const std::string& to) {
    std::string out = kGood;
    out.replace(out.find(from), from.size(), to);
    return out;
  };
  const std::string user = "user: \"catalog\"";
  CHECK(Error(edited(user, user + " password_env: \"P\" password_file: \"/run/secrets/p\"")) ==
        "topology t.textproto line 4: mysql[0].password_file: give password_env or password_file, not both");
  CHECK(Error(edited("write_replicas: 1 }", "write_replicas: 1 " + user +
                                                " password_env: \"P\" password_file: \"/run/secrets/r\" }")) ==
        "topology t.textproto line 2: redis[0].password_file: give password_env or password_file, not both");
  CHECK(Error(edited(user, user + " tls_cert_file: \"/c.pem\" tls_key_file: \"/k.pem\"")) ==
        "topology t.textproto line 4: mysql[0].tls_ca_file: required with tls_cert_file");
  CHECK(Error(edited(user, user + " tls_ca_file: \"/ca.pem\" tls_key_file: \"/k.pem\"")) ==
        "topology t.textproto line 4: mysql[0].tls_cert_file: tls_cert_file and tls_key_file go together");
  CHECK(Error(edited("write_replicas: 1 }", "write_replicas: 1 tls_ca_file: \"/ca.pem\" tls_cert_file: \"/c.pem\" }")) ==
        "topology t.textproto line 2: redis[0].tls_key_file: tls_cert_file and tls_key_file go together");
  CHECK(Error(edited("write_replicas: 1 }", "write_replicas: 1 tls_server_name: \"redis.internal\" }")) ==
        "topology t.textproto line 2: redis[0].tls_ca_file: required with tls_server_name");
  text = kGood;
  text.replace(text.find("name: \"side\""), 12, "name: \"main\"");
  CHECK(Error(text) == "topology t.textproto line 3: redis[1].name: \"main\" is named twice");
  text = kGood;
  text.replace(text.find("standalone { address: \"127.0.0.1:6379\" }"), 40, "cluster { seeds: \"127.0.0.1:7000\" }");
  INFO(text);
  CHECK(Error(text) ==
        "topology t.textproto line 2: redis[0].write_replicas: must be 0 for a cluster deployment (waiting for "
        "replicas is not supported on Redis Cluster yet; see README, Redis Cluster)");
  text.replace(text.find("\"127.0.0.1:7000\""), 16, "\"node-1\"");
  CHECK(Error(text) == "topology t.textproto line 2: redis[0].cluster.seeds[0]: \"node-1\" is not host:port");
  CHECK(Error("redis {\n  name: \"x\"\n  cluster { }\n}\n") ==
        "topology t.textproto line 3: redis[0].cluster.seeds: required");
  text = kGood;
  text.erase(text.find("records { record_type: \"offers\""));
  CHECK(Error(text) == "topology t.textproto: records: record type \"offers\" is not placed");
  CHECK(Error("redis {\n  name: \"x\"\n}\n") ==
        "topology t.textproto line 1: redis[0]: one of standalone, sentinel or cluster is required");
  CHECK(Error("mysql {\n  name: \"m\"\n  address: \"db\"\n}\n") ==
        "topology t.textproto line 3: mysql[0].address: \"db\" is not host:port");
  CHECK(absl::IsNotFound(LoadTopologyFile("/nonexistent/topology").status()));
  text = kGood;
  const std::string main_replicas = " write_replicas: 1 }";
  text.replace(text.find(main_replicas), main_replicas.size(), " }");  // main: 0, side (offers): 1.
  CHECK(Error(text) == "topology t.textproto line 6: records[1].redis: offers on \"side\" (write_replicas 1) "
                       "invalidate product views on \"main\" (write_replicas 0): raise the latter to at least the "
                       "former");
  Config empty_host;
  empty_host.redis_host = "";
  CHECK(CheckTopology(TopologyFromConfig(empty_host), "from the options").message() ==
        "topology from the options: redis[0].standalone.address: \":6379\" is not host:port");
}

TEST_CASE("topology: without a file, the options make one deployment and one database for every type") {
  Config config;
  config.redis_host = "10.0.0.5";
  config.redis_port = 6380;
  auto topology = TopologyFromConfig(config);
  REQUIRE(topology.redis_size() == 1);
  CHECK(topology.redis(0).standalone().address() == "10.0.0.5:6380");
  CHECK(PlacementOf(topology, "offers").redis() == "default");
  config.redis_sentinels = "10.0.0.1:26379,10.0.0.2:26379";
  topology = TopologyFromConfig(config);
  CHECK(topology.redis(0).sentinel().sentinels_size() == 2);
  CHECK(topology.redis(0).sentinel().master_name() == "catalog");
}

}  // namespace
}  // namespace catalog::service

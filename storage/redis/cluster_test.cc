// RedisCluster against a real local cluster (3 masters, 3 replicas): batches
// across every node, and reads during a live reshard.
#include "storage/redis/cluster.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisClusterProcesses;
using catalog::testing::RedisServer;

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(absl::StrCat("product:c", i));
  return keys;
}

// Writes through a node with redis-cli semantics: SET on the owner.
void Populate(RedisClusterProcesses& cluster, RedisCluster& client, const std::vector<std::string>& keys) {
  std::map<std::string, RedisServer*> by_address;
  for (auto& node : cluster.nodes) by_address[absl::StrCat("127.0.0.1:", node->port())] = node.get();
  for (const std::string& key : keys) {
    RedisServer* owner = by_address.at(client.OwnerOf(KeySlot(key)));
    auto reply = owner->Command({"SET", key, "v-" + key});
    REQUIRE(reply->type == REDIS_REPLY_STATUS);
  }
}

// A cluster, a client of it with a fresh slot map, and `n` keys written.
struct Populated {
  RedisClusterProcesses cluster;
  Metrics metrics;
  RedisCluster client;
  std::vector<std::string> keys;
  explicit Populated(int n)
      : client(
            [&] {
              ClusterOptions options;
              options.seeds = {HostPort{"127.0.0.1", cluster.nodes[0]->port()}};
              return options;
            }(),
            &metrics),
        keys(Keys(n)) {
    REQUIRE(client.Refresh(Later()).ok());
    Populate(cluster, client, keys);
  }
};

TEST_CASE("cluster: a batch across every node comes back in request order, one MGET per slot on its owner") {
  Populated p(300);
  auto& [cluster, metrics, client, keys] = p;
  std::set<std::string> owners;
  std::set<uint16_t> slots;
  for (const std::string& key : keys) {
    owners.insert(client.OwnerOf(KeySlot(key)));
    slots.insert(KeySlot(key));
  }
  REQUIRE(owners.size() == 3);  // The batch spans every master.
  for (auto& node : cluster.nodes) node->ResetStats();

  std::vector<std::string> asked = keys;
  asked.push_back("product:none");
  auto values = client.MultiGet(asked, Later());
  INFO(values.status().ToString());
  REQUIRE(values.ok());
  for (size_t i = 0; i < keys.size(); ++i) CHECK((*values)[i].value_or("") == "v-" + keys[i]);
  CHECK_FALSE(values->back().has_value());
  slots.insert(KeySlot("product:none"));
  long long mgets = 0;
  for (auto& node : cluster.nodes) mgets += node->CommandCalls("mget");
  CHECK(mgets == static_cast<long long>(slots.size()));  // One per slot, nothing resent.
  CHECK(metrics.Get(Counter::redis_cluster_moves_total) == 0);
}

TEST_CASE("cluster: reads during a live reshard all succeed, following MOVED and ASK") {
  Populated p(2000);
  auto& [cluster, metrics, client, keys] = p;

  // Move 2000 slots from the first master to the second while reading.
  std::atomic<bool> done{false};
  int cli_status = -1;
  std::thread reshard([&] {
    const std::string log = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                            catalog::testing::UniqueName("reshard") + ".log";
    cli_status = cluster.Cli({"reshard", cluster.Addresses()[0], "--cluster-from", cluster.Id(0), "--cluster-to",
                              cluster.Id(1), "--cluster-slots", "2000", "--cluster-yes", "--cluster-pipeline", "10"},
                             log);
    done = true;
  });
  int64_t reads = 0, failed = 0, wrong = 0;
  std::string first_error;
  while (!done) {
    auto values = client.MultiGet(keys, Later());
    ++reads;
    if (!values.ok()) {
      if (failed++ == 0) first_error = values.status().ToString();
      continue;
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      if ((*values)[i].value_or("") != "v-" + keys[i]) ++wrong;
    }
  }
  reshard.join();
  INFO(first_error);
  REQUIRE(cli_status == 0);
  CHECK(reads > 0);
  CHECK(failed == 0);
  CHECK(wrong == 0);
  // After it, a read follows the moves once and then reads the new owner.
  auto after = client.MultiGet(keys, Later());
  REQUIRE(after.ok());
  CHECK(metrics.Get(Counter::redis_cluster_moves_total) > 0);
  // The reshard moved the first master's lowest 2000 slots (0..1999): the
  // map now names the second master for those the keys use.
  int moved_slots_read = 0;
  for (const std::string& key : keys) {
    if (KeySlot(key) >= 2000) continue;
    ++moved_slots_read;
    CHECK(client.OwnerOf(KeySlot(key)) == cluster.Addresses()[1]);
  }
  CHECK(moved_slots_read > 0);
  std::printf("cluster reshard: %lld batch reads of 2000 keys during it, %lld failed; MOVED %lld, ASK %lld, "
              "TRYAGAIN %lld followed\n",
              static_cast<long long>(reads), static_cast<long long>(failed),
              static_cast<long long>(metrics.Get(Counter::redis_cluster_moves_total)),
              static_cast<long long>(metrics.Get(Counter::redis_cluster_asks_total)),
              static_cast<long long>(metrics.Get(Counter::redis_cluster_tryagains_total)));
}

TEST_CASE("cluster: a slot half migrated: TRYAGAIN splits the read, ASK reaches the moved key") {
  Populated p(0);
  auto& [cluster, metrics, client, keys] = p;
  // Two keys of one slot owned by the first master.
  const std::string a = "product:{t}a", b = "product:{t}b";
  const uint16_t slot = KeySlot(a);
  const std::string from = client.OwnerOf(slot);
  size_t source = 0, target = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (cluster.Addresses()[i] == from) source = i;
  }
  target = (source + 1) % 3;
  RedisServer& src = *cluster.nodes[source];
  RedisServer& dst = *cluster.nodes[target];
  src.Command({"SET", a, "va"});
  src.Command({"SET", b, "vb"});
  REQUIRE(dst.Command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", cluster.Id(source)})->type ==
          REDIS_REPLY_STATUS);
  REQUIRE(src.Command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", cluster.Id(target)})->type ==
          REDIS_REPLY_STATUS);
  REQUIRE(src.Command({"MIGRATE", "127.0.0.1", std::to_string(dst.port()), a, "0", "5000"})->type ==
          REDIS_REPLY_STATUS);

  auto values = client.MultiGet({a, b}, Later());
  INFO(values.status().ToString());
  REQUIRE(values.ok());
  CHECK((*values)[0].value_or("") == "va");
  CHECK((*values)[1].value_or("") == "vb");
  CHECK(metrics.Get(Counter::redis_cluster_tryagains_total) >= 1);
  CHECK(metrics.Get(Counter::redis_cluster_asks_total) >= 1);
  CHECK(client.OwnerOf(slot) == from);  // ASK does not change the map.
}

}  // namespace
}  // namespace catalog::storage
